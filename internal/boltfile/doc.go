// Package boltfile opens the bbolt files that stores keep in the data
// directory, one operation at a time, so that a command-line import can
// write while serve runs.
//
// It must never hold a file open between operations, wait for the file
// lock past the caller's deadline, or create anything when only reading.
package boltfile
