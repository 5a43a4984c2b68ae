package webhook

import (
	"strings"
	"testing"
)

// TestQueueTurns: owners are served in turn, each owner's webhooks in the order queued, an
// owner with perOwner being attempted is passed over, and an owner that joins waits for
// those already waiting.
func TestQueueTurns(t *testing.T) {
	due := func(id int64, owner string) Due { return Due{ID: id, Callback: Callback{Owner: owner}} }
	for _, tt := range []struct {
		name     string
		perOwner int
		pushes   []Due
		// held: how many taken webhooks stay in progress (not done) at once
		held int
		want string
	}{
		{"one at a time", 1, []Due{due(1, "a"), due(2, "a"), due(3, "a"), due(4, "b"), due(5, "c"), due(6, "c")}, 1, "a1 b4 c5 a2 c6 a3"},
		{"three held, one each", 1, []Due{due(1, "a"), due(2, "a"), due(3, "a"), due(4, "b")}, 3, "a1 b4 a2 a3"},
		{"two each", 2, []Due{due(1, "a"), due(2, "a"), due(3, "a"), due(4, "b")}, 4, "a1 b4 a2 a3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(tt.perOwner)
			epoch, _ := q.startRefill(100)
			for _, d := range tt.pushes {
				q.push(d)
				q.push(d) // a repeat of a webhook queued is dropped
			}
			q.endRefill(epoch)
			var got []string
			var inProgress []Due
			for len(got) < len(tt.pushes) {
				if len(inProgress) == tt.held || q.nothingFree() {
					q.done(inProgress[0])
					inProgress = inProgress[1:]
					continue
				}
				d, _ := q.take()
				got = append(got, d.Owner+string(rune('0'+d.ID)))
				inProgress = append(inProgress, d)
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("taken %s, want %s", s, tt.want)
			}
		})
	}
}

// nothingFree reports whether take would wait: no owner has a webhook queued and fewer
// than perOwner being attempted.
func (q *queue) nothingFree() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, owner := range q.ring {
		if q.busy[owner] < q.perOwner {
			return false
		}
	}
	return true
}

// TestQueueForgets: a webhook attempted while the store was read is not queued again by
// that read, which may have seen it before its outcome; the next read may queue it.
func TestQueueForgets(t *testing.T) {
	q := newQueue(1)
	d := Due{ID: 7, Callback: Callback{Owner: "a"}}
	first, _ := q.startRefill(100)
	q.push(d)
	q.endRefill(first)
	taken, _ := q.take()

	second, _ := q.startRefill(100) // reads while the attempt goes on
	q.done(taken)
	q.push(d) // as it was before its outcome was recorded
	q.endRefill(second)
	if !q.nothingFree() {
		t.Fatal("a webhook attempted during a read was queued again by it")
	}

	third, _ := q.startRefill(100)
	q.push(d) // due again (a retry): queued
	q.endRefill(third)
	if q.nothingFree() {
		t.Error("a webhook due again after its attempt was not queued")
	}
	q.close()
	if _, ok := q.take(); ok {
		t.Error("take after close")
	}
}
