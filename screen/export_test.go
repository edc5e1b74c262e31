package screen

// NopChannel is a channel that answers like a fresh one and does no work,
// for the benchmarks outside the package.
var NopChannel Channel = nopChannel{}
