package ots

// ParseFileChecked is ParseFile, and also returns how many bytes of entries its
// duplicate checks looked up.
func ParseFileChecked(data []byte) (*File, int, error) {
	d := &decoder{b: data}
	f, err := parseFile(d)
	return f, d.checked, err
}

// ParseTimestampChecked is ParseTimestamp, and also returns how many bytes of entries its
// duplicate checks looked up.
func ParseTimestampChecked(data, msg []byte) (*Timestamp, int, error) {
	d := &decoder{b: data}
	t, err := parseTimestamp(d, msg)
	return t, d.checked, err
}
