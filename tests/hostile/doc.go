// Package hostile holds black-box tests of peerlink against hostile
// network input: floods from random sources, forged and garbage
// datagrams. They use only the public API of state/node, as an
// application would.
package hostile
