// Package csvsafe makes CSV cells safe to open in a spreadsheet.
//
// A cell that a spreadsheet would run as a formula (=HYPERLINK(...), +cmd,
// -cmd, @SUM, or one starting with a tab or a carriage return) is written
// with a leading apostrophe, which spreadsheets show as text. Every CSV
// export of the project (decisions, lists, reports) writes its cells
// through Cell, and a reader of the project's own exports undoes it with
// Unescape, so an export imports back unchanged.
//
// It must never do I/O or change a cell that is not a formula: E.164
// numbers such as +12125551234 and negative numbers stay as they are.
package csvsafe
