package store

import "context"

// FeedNames are the feeds the database has runs of, in name order.
func (s *Store) FeedNames(ctx context.Context) ([]string, error) {
	db := s.db.WithContext(ctx)
	q := "SELECT DISTINCT feed FROM fetch_runs ORDER BY feed"
	if s.indexed(db) {
		// The ledger's summary has a row per feed with any run, failed ones
		// included (its trigger fires on every insert into fetch_runs).
		q = "SELECT feed FROM ledger_feeds ORDER BY feed"
	}
	var names []string
	if err := db.Raw(q).Scan(&names).Error; err != nil {
		return nil, s.dbError("read the feeds", err)
	}
	return names, nil
}
