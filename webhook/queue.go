package webhook

import "sync"

// queue holds the due webhooks read from the store, one queue per owner, and hands them to
// the workers owner by owner in turn (round robin), with at most perOwner of one owner's
// being attempted at once: an owner with many webhooks, or a receiver that stalls, waits
// for its own, and the other owners' webhooks go first.
type queue struct {
	perOwner int

	mu     sync.Mutex
	cond   *sync.Cond // signalled when a webhook can be taken, or the queue closes
	closed bool
	owners map[string][]Due // queued, by owner, in order of due time
	ring   []string         // the owners with webhooks queued, in turn
	next   int              // the place in ring of the owner whose turn is next
	busy   map[string]int   // webhooks being attempted, by owner
	// known holds the IDs queued or being attempted (0), or attempted since a read of
	// the store began (the epoch it ended in): a read may have seen them before their
	// outcome was recorded, and must not queue them again.
	known map[int64]int
	epoch int
}

func newQueue(perOwner int) *queue {
	q := &queue{perOwner: perOwner, owners: map[string][]Due{}, busy: map[string]int{}, known: map[int64]int{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// startRefill begins a read of the store, unless limit webhooks are queued or being
// attempted; endRefill(epoch) ends it.
func (q *queue) startRefill(limit int) (epoch int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	active := 0
	for _, e := range q.known {
		if e == 0 {
			active++
		}
	}
	if active >= limit {
		return 0, false
	}
	q.epoch++
	return q.epoch, true
}

// endRefill forgets the webhooks attempted before the read that began at epoch: it and
// every later read see their outcome.
func (q *queue) endRefill(epoch int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, e := range q.known {
		if e != 0 && e < epoch {
			delete(q.known, id)
		}
	}
}

// push queues d, unless it is queued, being attempted, or was attempted during this read
// (which began before its outcome was recorded).
func (q *queue) push(d Due) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.known[d.ID]; (ok && (e == 0 || e >= q.epoch)) || q.closed {
		return
	}
	q.known[d.ID] = 0
	if len(q.owners[d.Owner]) == 0 {
		// A new owner joins the ring just before the one whose turn is next: it is served
		// after every owner already waiting.
		q.ring = append(q.ring, "")
		copy(q.ring[q.next+1:], q.ring[q.next:])
		q.ring[q.next] = d.Owner
		q.next = (q.next + 1) % len(q.ring)
	}
	q.owners[d.Owner] = append(q.owners[d.Owner], d)
	q.cond.Broadcast()
}

// take waits for the next webhook to attempt: the first of the next owner in turn that has
// fewer than perOwner being attempted. It returns false once the queue is closed.
func (q *queue) take() (Due, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed {
		for i := range len(q.ring) {
			k := (q.next + i) % len(q.ring)
			owner := q.ring[k]
			if q.busy[owner] >= q.perOwner {
				continue
			}
			list := q.owners[owner]
			d := list[0]
			list[0] = Due{}
			if list = list[1:]; len(list) > 0 {
				q.owners[owner] = list
				q.next = (k + 1) % len(q.ring)
			} else {
				delete(q.owners, owner)
				q.ring = append(q.ring[:k], q.ring[k+1:]...)
				q.next = 0
				if len(q.ring) > 0 {
					q.next = k % len(q.ring)
				}
			}
			q.busy[owner]++
			return d, true
		}
		q.cond.Wait()
	}
	return Due{}, false
}

// done records that the attempt of d, taken from the queue, is over and its outcome
// recorded. It reports whether d's owner has nothing else queued.
func (q *queue) done(d Due) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy[d.Owner]--; q.busy[d.Owner] <= 0 {
		delete(q.busy, d.Owner)
	}
	q.known[d.ID] = q.epoch
	q.cond.Broadcast()
	return len(q.owners[d.Owner]) == 0
}

// close wakes the workers waiting in take, and makes take return false from then on.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}
