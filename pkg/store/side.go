package store

// Dialect is the database the store is open on.
func (s *Store) Dialect() Dialect { return s.dialect }

// FeedBusy reports whether another run of feed holds its run lock at this
// moment: SQLite's lock file. A caller about to read a whole snapshot before
// BeginRun (collect's read-ahead) asks first, so that a run that would be
// locked out sends no request to the feed. BeginRun still decides; on
// PostgreSQL, whose lock comes with the run's transaction, it is always
// false.
func (s *Store) FeedBusy(feed string) bool {
	if s.dialect != SQLite {
		return false
	}
	unlock, err := lockFeed(s.path, feed)
	if err != nil {
		return err == ErrLocked
	}
	unlock()
	return false
}
