// Package doclist holds a test that keeps the method lists in the package
// documentation of drivers, node, pump, gso and iceagent complete: a reader who
// learns a package from its doc.go finds every method of its main type
// named there.
package doclist
