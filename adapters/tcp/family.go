package tcp

import (
	"context"
	"slices"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/protocol"
)

// What the transport learns of the family's nodes (Trust.LegacyPeers) and
// how it adapts to them (docs/PROTOCOL-NOTES.md, "The family today").

// familyTraits is what the dialer learned of the family peer at one address.
type familyTraits struct {
	spelling protocol.OpSpelling
	spelled  bool // learned from its entries
	noClock  bool // it left a clock request unanswered: the TypeScript node
}

// spellingFor is how operations are spelled to the family peer at address:
// as its own entries spell them, else the TypeScript spelling when it
// answers no clock request, else the C# one.
func (d *Dialer) spellingFor(address string) protocol.OpSpelling {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.traits[address]
	switch {
	case t == nil:
		return protocol.SpellPascal
	case t.spelled:
		return t.spelling
	case t.noClock:
		return protocol.SpellLower
	}
	return protocol.SpellPascal
}

// learn updates what is known of the peer at address.
func (d *Dialer) learn(address string, update func(*familyTraits)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.traits[address]
	if t == nil {
		t = &familyTraits{}
		d.traits[address] = t
	}
	before := *t
	update(t)
	if *t != before {
		d.logger.Debug("learned of a family peer", zap.String("address", address),
			zap.Bool("lower_case_operations", t.spelled && t.spelling == protocol.SpellLower), zap.Bool("answers_clock", !t.noClock))
	}
}

func (d *Dialer) learnSpelling(address string, cs protocol.ChangeSet) {
	if cs.Spelled {
		d.learn(address, func(t *familyTraits) { t.spelling, t.spelled = cs.Spelling, true })
	}
}

// peerSpelling is how the server spells operations to the family peer of
// c: as its pushes spell them, else the TypeScript spelling for a client
// that never asked for a clock (the TypeScript node pulls only), else the
// C# one. Go peers always get "Put"/"Delete".
func (c *serverConn) peerSpelling() protocol.OpSpelling {
	switch {
	case !c.peer.Legacy:
		return protocol.SpellPascal
	case c.spelled:
		return c.spelling
	case !c.peer.AskedClock:
		return protocol.SpellLower
	}
	return protocol.SpellPascal
}

// interestsFor are the collections announced to a handshaking peer: the
// configured ones and, to a family peer, every collection we hold (a C#
// node on its BLite store pushes nothing to a peer that announces none).
func (c *serverConn) interestsFor() []string {
	own := c.s.opts.Interests
	lister, ok := c.s.handler.(CollectionLister)
	if !c.peer.Legacy || !ok {
		return own
	}
	held, err := lister.Collections(context.WithoutCancel(c.s.ctx))
	if err != nil {
		c.log.Warn("listing our collections for the peer failed; announcing the configured interests", zap.Error(err))
		return own
	}
	out := slices.Clone(own)
	for _, col := range held {
		if !slices.Contains(out, col) {
			out = append(out, col)
		}
	}
	return out
}
