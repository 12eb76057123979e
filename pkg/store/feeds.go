package store

import "context"

// FeedNames are the feeds the database has runs of, in name order.
func (s *Store) FeedNames(ctx context.Context) ([]string, error) {
	var names []string
	if err := s.db.WithContext(ctx).Raw("SELECT DISTINCT feed FROM fetch_runs ORDER BY feed").Scan(&names).Error; err != nil {
		return nil, s.dbError("read the feeds", err)
	}
	return names, nil
}
