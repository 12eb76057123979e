package store

import (
	"context"
	"time"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Change is one typed field of an event that differs between two
// consecutive versions: Version is the newer one, ChangedAt its start (the
// run that first saw the change).
type Change struct {
	Feed, ID  string
	Version   int
	ChangedAt time.Time
	Field     string
	// Old and New are the values as text (traffic.Field.Text); nil is NULL.
	Old, New *string
}

// Changes streams one Change per typed field (traffic.Fields) that changed
// between consecutive versions of each event, ordered by feed, id, version
// and field order. A version that only follows a gap, with the same
// content, has none; neither does a change of raw alone (a key no column
// reads). f keeps the changes of its feeds and ids, whose newer version
// matches its content filters, made in [Since, Until). The row passed to
// fn is reused.
func (s *Store) Changes(ctx context.Context, f Filter, fn func(*Change) error) error {
	var prev EventVersion
	havePrev := false
	var c Change
	old, new := make([]string, len(traffic.Fields)), make([]string, len(traffic.Fields))
	// Every version of the events chosen, whatever their content then: the
	// first of a pair may not match the filters.
	return s.Versions(ctx, Filter{Feeds: f.Feeds, IDs: f.IDs}, func(v *EventVersion) error {
		defer func() { prev, havePrev = *v, true }()
		if !havePrev || prev.Feed != v.Feed || prev.ID != v.ID || !f.matches(&v.Event) ||
			!f.Since.IsZero() && v.ValidFrom.Before(f.Since) || !f.Until.IsZero() && !v.ValidFrom.Before(f.Until) {
			return nil
		}
		c = Change{Feed: v.Feed, ID: v.ID, Version: v.Version, ChangedAt: v.ValidFrom}
		for i, field := range traffic.Fields {
			o, oldOK := field.Text(&prev.Event)
			n, newOK := field.Text(&v.Event)
			if o == n && oldOK == newOK {
				continue
			}
			old[i], new[i] = o, n
			c.Field, c.Old, c.New = field.Name, nil, nil
			if oldOK {
				c.Old = &old[i]
			}
			if newOK {
				c.New = &new[i]
			}
			if err := fn(&c); err != nil {
				return err
			}
		}
		return nil
	})
}
