package store

import (
	"fmt"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// known is what the database held of one event id when the run began.
type known struct {
	hash    string // its current spell's content hash (open events)
	version int    // its current spell
	open    bool
}

// change is what a run does with one event of its snapshot.
type change int

const (
	isNew       change = iota // never stored: an events row and spell 1
	isChanged                 // open with other content: its spell ends, the next begins
	isReturning               // closed, and listed again: open again, with a new spell
	isUnchanged               // open with the same content: its spell goes on, nothing is written
)

// classify compares an event of the snapshot with what was stored of its id.
func classify(k known, stored bool, hash string) change {
	switch {
	case !stored:
		return isNew
	case !k.open:
		return isReturning
	case k.hash == hash:
		return isUnchanged
	default:
		return isChanged
	}
}

// met is what the run did with an id it met.
type met struct {
	hash   string
	change change
}

// spell is one spell a page begins: the event's content and its number.
type spell struct {
	event   *traffic.Event
	version int
	change  change // isNew, isChanged or isReturning
}

// undo is an id met earlier in the run with other content: what the run
// wrote for it then is taken back before the page's writes.
type undo struct {
	id      string
	was     change // what the run did with it then
	version int    // its stored current spell (0 if it was new)
}

// spellKey names one spell of the run's feed.
type spellKey struct {
	id      string
	version int
}

// ids are the event ids of keys.
func ids(keys []spellKey) []string {
	if len(keys) == 0 {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.id
	}
	return out
}

// pagePlan is what one page of a snapshot writes, in the order the run
// applies it: undo, end the spells of changed events, then begin spells
// (with their events' rows).
type pagePlan struct {
	undo   []undo
	ending []spellKey // the open spells that end: of changed events
	begin  []spell    // new, changed and returning events
}

// planner decides what a run does, a page at a time, from what was stored
// when the run began and what the run met so far. It reads and writes no
// database: the run looks up the closed events a page names and adds them
// to closed before planning the page.
type planner struct {
	open   map[string]known // the open events; never written (RunTx.Unchanged reads it meanwhile)
	closed map[string]known // the closed events met
	seen   map[string]met   // what the run did with each id it met
}

func newPlanner(open map[string]known) *planner {
	return &planner{open: open, closed: map[string]known{}, seen: make(map[string]met, len(open))}
}

// stored is what was stored of id when the run began.
func (p *planner) stored(id string) (known, bool) {
	if k, ok := p.open[id]; ok {
		return k, true
	}
	k, ok := p.closed[id]
	return k, ok
}

// unknown are the ids of page neither stored as open nor looked up yet nor
// met: those the run must look for among closed events.
func (p *planner) unknown(page []traffic.Event) []string {
	var ids []string
	for i := range page {
		id := page[i].ID
		_, stored := p.stored(id)
		_, seen := p.seen[id]
		if !stored && !seen {
			ids = append(ids, id)
		}
	}
	return ids
}

// page plans one page of the snapshot, in feed order. An id met again
// takes its later content: within the page only the last copy counts; met
// on an earlier page with other content, what was written for it then is
// undone. An event with HashOnly set must be stored unchanged (the run's
// own Unchanged said so): anything else is an error, as its content is not
// there to write.
func (p *planner) page(page []traffic.Event) (pagePlan, error) {
	var plan pagePlan
	last := make(map[string]int, len(page))
	for i := range page {
		last[page[i].ID] = i
	}
	for i := range page {
		e := &page[i]
		if last[e.ID] != i {
			continue // a later copy in this page counts
		}
		prev, metBefore := p.seen[e.ID]
		k, stored := p.stored(e.ID)
		if metBefore {
			if prev.hash == e.ContentHash {
				continue // the same content again: nothing to do
			}
			if prev.change != isUnchanged { // it wrote nothing then
				plan.undo = append(plan.undo, undo{id: e.ID, was: prev.change, version: k.version})
			}
		}
		ch := classify(k, stored, e.ContentHash)
		if e.HashOnly && ch != isUnchanged {
			return pagePlan{}, fmt.Errorf("event %q came without its content, but is not stored with this content", e.ID)
		}
		switch ch {
		case isNew:
			plan.begin = append(plan.begin, spell{event: e, version: 1, change: ch})
		case isChanged:
			plan.ending = append(plan.ending, spellKey{e.ID, k.version})
			plan.begin = append(plan.begin, spell{event: e, version: k.version + 1, change: ch})
		case isReturning:
			plan.begin = append(plan.begin, spell{event: e, version: k.version + 1, change: ch})
		}
		p.seen[e.ID] = met{hash: e.ContentHash, change: ch}
	}
	return plan, nil
}

// closing are the open spells of the events the snapshot did not list,
// once every page is planned.
func (p *planner) closing() []spellKey {
	var gone []spellKey
	for id, k := range p.open {
		if _, met := p.seen[id]; !met {
			gone = append(gone, spellKey{id, k.version})
		}
	}
	return gone
}

// counts is what the planned snapshot changed, closing being p.closing()
// (which the caller often needs too: it is computed once).
func (p *planner) counts(closing []spellKey) RunCounts {
	var c RunCounts
	for _, m := range p.seen {
		switch m.change {
		case isNew:
			c.New++
		case isChanged, isReturning:
			c.Changed++
		case isUnchanged:
			c.Unchanged++
		}
	}
	c.Closed = len(closing)
	return c
}
