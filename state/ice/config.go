package ice

import (
	"fmt"
	"time"
)

// Config holds every timer and bound of an agent. The zero value of a field
// means "use the default"; DefaultConfig shows the defaults and each field
// says why it has its value.
type Config struct {
	// Ta is the pacing of new connectivity checks: at most one new (or
	// triggered) check leaves every Ta. Default 50 ms, RFC 8445 section
	// 14.2's value for a single data stream; pacing keeps a burst of pairs
	// from flooding NATs that allocate a mapping per destination.
	Ta time.Duration
	// CheckRTO is the first retransmission timeout of a check. Default
	// 250 ms: checks mostly cross a LAN or a nearby NAT, and a short first
	// RTO finds a path quickly while the peer is still being told our
	// credentials (pion/ice drops checks until then).
	CheckRTO time.Duration
	// CheckRTOMax caps the doubling of CheckRTO. Default 2 s, so a lost
	// check is retried often enough to succeed soon after the peer is ready.
	CheckRTOMax time.Duration
	// CheckTransmits is how many times one check is sent before its pair
	// fails; the pair fails one (capped) RTO after the last send. Default 9:
	// 250+500+1000+2000*6 ms = 13.75 s of sending, which spans the usual gap
	// between our first check and the peer learning our candidates. An
	// answer after that still proves the pair, and the controlled side
	// keeps checking a pair its peer nominated (iceagent's late.go).
	CheckTransmits int
	// NominationWait is how long the controlling agent waits, after its best
	// pair so far succeeds, for checks on higher-priority pairs to finish
	// before nominating anyway. Default 200 ms: enough for a LAN pair to
	// answer, short enough not to delay the connection noticeably.
	NominationWait time.Duration
	// ProbeInterval is the liveness probe period on the selected path while
	// the application is sending. Default 1.5 s: ten probes fit in one
	// ProbeTimeout, so random loss alone almost never fails a path.
	ProbeInterval time.Duration
	// ProbeTimeout fails the connection (ProbeTimeout) when no authenticated
	// answer arrived for this long. Default 15 s. Firezone's clients used
	// 9.25 s and moved to about 15 s after lossy networks produced false
	// positives: a working path declared lost is worse than a few more
	// seconds to notice a dead one.
	ProbeTimeout time.Duration
	// ProbeLossAfter is how long a probe may go unanswered before it counts
	// as lost (Stats.ProbesLost). Default 1.5 s: several times the RTT of
	// any path we expect to carry (a geostationary hop is about 600 ms), and
	// equal to ProbeInterval, so on active timing the loss is known when
	// the next probe leaves and the count costs no extra wakeup. A late
	// answer still proves the path. On idle timing a lost probe is followed
	// up at once and then every ProbeInterval until one is answered: without
	// it, two idle probes lost an IdleProbeInterval apart failed a working
	// path (the simulator's lossy idle hours, 5% loss per link, gave 146
	// false ProbeTimeouts in 20 hours).
	ProbeLossAfter time.Duration
	// SwitchAfter moves the connection to the backup pair (the best other
	// pair whose checks succeeded, see BackupProbeInterval) once the
	// selected pair's probes have gone unanswered this long and the backup
	// answered within the probe timeout. Default 7.5 s, half of
	// ProbeTimeout: five probe intervals, so a burst of loss rarely moves a
	// working path (a move can reorder data in flight across the two
	// paths), and still far enough below ProbeTimeout that a connection
	// with a relayed pair moves to it long before it would have failed.
	// It should exceed the worst round trip of a probe, including the time
	// it waits behind data in the socket's send buffer: every pair crosses
	// the same socket, so a switch made while answers are merely slow
	// helps nothing and moves the connection from pair to pair. The
	// drivers' kernel budget keeps that wait short (its default floor,
	// pump.Config.KernelDataBudget, drains in 0.4 s at 256 kbit/s). Without
	// it (a driver that cannot read the unsent bytes) a full 208 KiB buffer
	// holds a probe for 6.6 s at 256 kbit/s,
	// close to the default; on slower uplinks raise SwitchAfter (and
	// ProbeTimeout) accordingly. The agent cannot measure this itself.
	SwitchAfter time.Duration
	// BackupProbeInterval is the probe period on the backup pair (on idle
	// timing IdleProbeInterval, if longer). Default 5 s: a backup is known
	// to work when it is needed, for one small request every 5 s, and the
	// NAT mappings toward it stay open.
	BackupProbeInterval time.Duration
	// IdleAfter switches to idle timing when no application data went
	// either way for this long. Default 20 s.
	IdleAfter time.Duration
	// IdleProbeInterval is the probe period while idle. Default 25 s: below
	// the 30 s that the shortest common NAT UDP mapping timeouts allow, so
	// the mapping stays open without waking radios every ProbeInterval.
	IdleProbeInterval time.Duration
	// IdleProbeTimeout is ProbeTimeout while idle. Default 60 s: an idle
	// probe left unanswered is followed up every ProbeInterval (see
	// ProbeLossAfter), so the 35 s between a missed idle probe and the
	// timeout carry over twenty probes, and random loss alone almost never
	// fails an unused path; a dead one is still noticed within a minute.
	// Traffic restores active timing at once.
	IdleProbeTimeout time.Duration
	// CandidateTimeout fails a connection (CandidateTimeout) when no remote
	// candidate that pairs with a local one arrived within this long of
	// Connect. Default 10 s: signalling that has not delivered a candidate
	// by then has most likely failed.
	CandidateTimeout time.Duration
	// MaxRemoteCandidates bounds remote candidates, signalled and peer
	// reflexive together. Default 32. A peer-reflexive address the peer
	// left when the agent followed it elsewhere (iceagent's roam.go) is forgotten,
	// so NAT rebinds do not use it up.
	MaxRemoteCandidates int
	// MaxLocalCandidates bounds local base candidates. Default 16.
	MaxLocalCandidates int
	// ProbeMemory is how many recent probe transactions are remembered, so
	// that a late answer still counts. Default: enough for every probe sent
	// within the longer of the two timeouts at ProbeInterval (idle
	// follow-ups come that fast), plus two, and at least 16; with the
	// default timers 42. Fewer would drop answers to probes that are slow
	// but not lost (behind a saturated slow uplink a round trip can take
	// longer than 16 probe intervals) and fail a working path.
	ProbeMemory int
	// RecheckInterval is how often pairs that failed their checks but rank
	// above the selected pair are checked again. Default 30 s. A connection
	// that fell back to a relay because the direct path was blocked at
	// first (a firewall rule, a NAT mapping not yet open) moves to that
	// direct path within about this long once it opens; each round costs
	// one check schedule per such pair, a few hundred bytes per round.
	RecheckInterval time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Ta:                  50 * time.Millisecond,
		CheckRTO:            250 * time.Millisecond,
		CheckRTOMax:         2 * time.Second,
		CheckTransmits:      9,
		NominationWait:      200 * time.Millisecond,
		ProbeInterval:       1500 * time.Millisecond,
		ProbeTimeout:        15 * time.Second,
		ProbeLossAfter:      1500 * time.Millisecond,
		SwitchAfter:         7500 * time.Millisecond,
		BackupProbeInterval: 5 * time.Second,
		IdleAfter:           20 * time.Second,
		IdleProbeInterval:   25 * time.Second,
		IdleProbeTimeout:    60 * time.Second,
		CandidateTimeout:    10 * time.Second,
		MaxRemoteCandidates: 32,
		MaxLocalCandidates:  16,
		RecheckInterval:     30 * time.Second,
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&c.Ta, d.Ta)
	setDur(&c.CheckRTO, d.CheckRTO)
	setDur(&c.CheckRTOMax, d.CheckRTOMax)
	setInt(&c.CheckTransmits, d.CheckTransmits)
	setDur(&c.NominationWait, d.NominationWait)
	setDur(&c.ProbeInterval, d.ProbeInterval)
	setDur(&c.ProbeTimeout, d.ProbeTimeout)
	setDur(&c.ProbeLossAfter, d.ProbeLossAfter)
	setDur(&c.SwitchAfter, d.SwitchAfter)
	setDur(&c.BackupProbeInterval, d.BackupProbeInterval)
	setDur(&c.IdleAfter, d.IdleAfter)
	setDur(&c.IdleProbeInterval, d.IdleProbeInterval)
	setDur(&c.IdleProbeTimeout, d.IdleProbeTimeout)
	setDur(&c.CandidateTimeout, d.CandidateTimeout)
	setInt(&c.MaxRemoteCandidates, d.MaxRemoteCandidates)
	setInt(&c.MaxLocalCandidates, d.MaxLocalCandidates)
	setDur(&c.RecheckInterval, d.RecheckInterval)
	if c.ProbeMemory == 0 && c.ProbeInterval > 0 {
		longest := max(c.ProbeTimeout, c.IdleProbeTimeout)
		c.ProbeMemory = max(16, int((longest+c.ProbeInterval-1)/c.ProbeInterval)+2)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Ta < 0, c.CheckRTO < 0, c.NominationWait < 0, c.CandidateTimeout < 0:
		return fmt.Errorf("%w: negative duration", ErrConfig)
	case c.CheckRTOMax < c.CheckRTO:
		return fmt.Errorf("%w: CheckRTOMax below CheckRTO", ErrConfig)
	case c.CheckTransmits < 1:
		return fmt.Errorf("%w: CheckTransmits below 1", ErrConfig)
	case c.ProbeInterval <= 0 || c.ProbeTimeout <= c.ProbeInterval:
		return fmt.Errorf("%w: ProbeTimeout must exceed ProbeInterval > 0", ErrConfig)
	case c.ProbeLossAfter <= 0:
		return fmt.Errorf("%w: ProbeLossAfter must be positive", ErrConfig)
	case c.SwitchAfter <= 0 || c.BackupProbeInterval <= 0:
		return fmt.Errorf("%w: SwitchAfter and BackupProbeInterval must be positive", ErrConfig)
	case c.IdleProbeInterval <= 0 || c.IdleProbeTimeout <= c.IdleProbeInterval:
		return fmt.Errorf("%w: IdleProbeTimeout must exceed IdleProbeInterval > 0", ErrConfig)
	case c.RecheckInterval < 0:
		return fmt.Errorf("%w: negative RecheckInterval", ErrConfig)
	case c.IdleAfter <= 0:
		return fmt.Errorf("%w: IdleAfter must be positive", ErrConfig)
	}
	return nil
}
