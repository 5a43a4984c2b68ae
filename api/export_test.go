package api

// DialCheck is the check of every address a callback is dialled at, after its name is
// resolved: an error unless the address is public.
func DialCheck(address string) error { return dialPublicOnly("tcp", address, nil) }

// IdleConns returns the number of connections open and idle (waiting for a request).
func (l *ConnListener) IdleConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle.Len()
}
