// Package iceagent is the ICE state of one connection (RFC 8445): its
// candidates and pairs, connectivity checks, nomination, liveness probes on
// the selected path, failover to a backup pair, recovery after a lost
// candidate, and following a peer that roams.
//
// Only the Node (state/node) uses it: a Node owns one Agent per connection
// (two during an ICE restart) and routes STUN messages to it. The package
// is internal because its methods exist for that routing, not for
// applications. An application configures the agent through ice.Config
// (node.Config.ICE) and reads what it reports through ice.Path,
// ice.FailReason and ice.Stats, which package node re-exports.
//
// The Agent is sans-IO like the Node: inputs take now, outputs are polled.
// Any input or command may add output; drain it after each.
//
//   - Getters: Role, Credentials, Selected, Failure, Idle, Recovering, LostPathHeardAt,
//     SilentSince, Stats, Remotes, HasLocal, HasRemote, RemotesForgotten,
//     Reflexive.
//   - Inputs: HandleRequest, HandleResponse, HandleTimeout.
//   - Commands: AddLocalCandidate, AddReflexiveCandidate,
//     AddRemoteCandidate, RemoveRemoteCandidate, RemoveLocalCandidate,
//     FailPairs, SetRecovery, NotifyAppTraffic, Abort.
//   - Outputs: PollTransmit, PollEvent, PollTimeout.
//
// Each file holds one sub-machine: candidates.go the pairs and their
// states, checks.go the connectivity checks and nomination, requests.go
// the peer's checks, valid.go the priority of a pair that succeeded,
// liveness.go the probes on the selected path, failover.go the backup,
// late.go answers after a check gave up, nominate_unheard.go a nomination
// the peer did not hear, recovery.go a lost candidate under the selected
// pair, relay.go relayed candidates, roam.go a peer that moved. The timers
// of all of them are one table (timers.go).
package iceagent
