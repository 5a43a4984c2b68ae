package api

// IdleConns returns the number of connections open and idle (waiting for a request).
func (l *ConnListener) IdleConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle.Len()
}
