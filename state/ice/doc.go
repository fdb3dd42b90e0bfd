// Package ice holds what an application sets and reads of a connection's
// ICE (RFC 8445): the timers and bounds (Config, DefaultConfig), the
// short-term credentials exchanged by signalling (Credentials,
// NewCredentials), the role, the selected path (Path), why a connection
// failed (FailReason) and what its agent counted (Stats).
//
// The agent that runs the checks and probes is internal to the core
// (state/internal/iceagent); the Node owns one per connection. Package
// node re-exports the types here that a program meets, so a program that
// only connects needs node alone; it imports ice to tune Config.
package ice
