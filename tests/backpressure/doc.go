// Package backpressure holds an end-to-end test of back-pressure on a relay
// reached over TCP: two Drivers on loopback whose only path runs through a
// pion/turn server in this process, the sender's relay stream held shut by
// a dialer whose connections stop writing on the test's command (as a
// server that stopped reading would), and a sender that uses only
// SendBatch and WaitWritable, as a program does. It needs no root.
package backpressure
