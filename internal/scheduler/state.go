// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// state is everything the scheduler knows. Only the event loop touches it.
type state struct {
	cfg   Config
	log   *slog.Logger
	stats *counters
	rng   *rand.Rand
	peers map[core.PeerID]*peer
	tasks map[core.TaskID]*task
	timer deadlines
	dirty []*task // tasks whose waiters may now be served

	// expected is the number of members each task expects in all
	// (Scheduler.Expect), also for tasks nobody has joined yet.
	expected map[core.TaskID]int

	// Declared upload capacities, for automatic slot sizing.
	upSum   float64
	upCount int

	// full holds the peers with no free upload slot. When the mean
	// declared upload changes, their slots are sized again at once, so
	// that a peer whose slots grew serves parked requests without
	// waiting for its next message.
	full map[*peer]struct{}

	// Scratch space for the policy, reused between decisions.
	cands, srcCands bitset
	top             topK
	parents         []*member
	scores          []float64 // parents' ranking scores
}

// peer is a registered daemon.
type peer struct {
	id       core.PeerID
	addr     string
	upload   uint64 // declared capacity, bytes/s
	download uint64
	slots    int     // upload slots
	uploads  int     // assignments with this peer as counted parent, all tasks
	score    float64 // free upload capacity a new child can expect; see setUploads
	lastSeen time.Time
	members  map[core.TaskID]*member
	gone     bool
}

func (p *peer) hasFreeSlot() bool { return p.uploads < p.slots }

// task is one object being distributed.
type task struct {
	id          core.TaskID
	layout      core.Layout
	url         string
	n           int
	members     map[core.PeerID]*member
	count       []int32 // holders (serving members) per piece
	held        bitset  // count > 0
	srcBusy     bitset  // being fetched from the source now
	srcInflight int
	digests     []core.Digest
	banned      map[core.PeerID]bool // served a corrupt piece: never a parent here again
	free        []*member            // members that hold something and have a free upload slot
	waiters     []*waiter
	seeds       int
	soleMembers int // members that are the only holder of some piece
	idleMembers int // members with no upload running that hold no piece alone
	isDirty     bool
}

// member is a peer's part in a task.
type member struct {
	peer    *peer
	task    *task
	have    bitset // pieces it serves
	done    bitset // pieces it has acknowledged (have plus evicted)
	pending bitset // pieces assigned to it and not yet reported
	nhave   int
	ndone   int
	sole    int                             // pieces only this member holds
	assigns map[core.PieceIndex]*assignment // the assignments behind pending
	serving map[*assignment]struct{}        // assignments it is counted parent for
	failed  map[core.PieceIndex][]core.PeerID
	// shunned holds the parents that failed it as unreachable, until when
	// they rank after every other holder (see rankParents); nil until the
	// first such failure.
	shunned map[core.PeerID]time.Time
	freePos int // index in task.free, or -1
	window  int // stream mode window in pieces; 0 in file mode
	una     int // first piece not acknowledged
}

// assignment is one piece handed to a child, from a parent or the source.
type assignment struct {
	child    *member
	piece    core.PieceIndex
	parent   *member // nil: the source
	start    time.Time
	deadline time.Time
	released bool
}

// waiter is a RequestPieces parked until something can be assigned.
type waiter struct {
	ctx      context.Context
	m        *member
	max      int
	deadline time.Time
	res      chan<- result[*proto.Schedule]
	done     bool
}

func newState(cfg Config, log *slog.Logger, stats *counters) *state {
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &state{
		cfg:   cfg,
		log:   log,
		stats: stats,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		peers: map[core.PeerID]*peer{},
		tasks: map[core.TaskID]*task{},
		full:  map[*peer]struct{}{},

		expected: map[core.TaskID]int{},
	}
}

// touch records that p was heard from, and resizes its upload slots to
// the current mean capacity.
func (s *state) touch(p *peer) {
	p.lastSeen = time.Now()
	s.refreshSlots(p)
}

// meanUpload is the mean declared upload of the registered peers, or 0.
func (s *state) meanUpload() float64 {
	if s.upCount == 0 {
		return 0
	}
	return s.upSum / float64(s.upCount)
}

// refreshSlots recomputes p's upload slots. Assignments beyond a reduced
// count run out; the peer just gets no new ones meanwhile.
func (s *state) refreshSlots(p *peer) {
	slots := s.cfg.slotsFor(p.upload, s.meanUpload())
	if slots == p.slots {
		return
	}
	wasFree := p.hasFreeSlot()
	p.slots = slots
	p.score = freeCapacity(p)
	if p.hasFreeSlot() != wasFree {
		s.noteFull(p)
		for _, m := range p.members {
			s.updateFree(m)
			s.markDirty(m.task)
		}
	}
}

// resizeFull sizes again the slots of the peers that have no free slot,
// after the mean declared upload changed: those whose slots grew become
// parents again now, not at their next message (a heartbeat apart).
// Peers with a free slot keep their size until they are next heard from:
// fewer or more slots there changes no parked request's answer.
func (s *state) resizeFull() {
	if s.cfg.SlotBandwidth != 0 {
		return // slots do not depend on the mean
	}
	for p := range s.full {
		s.refreshSlots(p) // may delete p from full, which range allows
	}
}

// noteFull keeps p's place in s.full in step with its free slots.
func (s *state) noteFull(p *peer) {
	if p.hasFreeSlot() || p.gone {
		delete(s.full, p)
	} else {
		s.full[p] = struct{}{}
	}
}

// peerOf returns the registered peer id, refreshing its liveness.
func (s *state) peerOf(id core.PeerID) (*peer, error) {
	p := s.peers[id]
	if p == nil {
		return nil, fmt.Errorf("%w %v", ErrUnknownPeer, id)
	}
	s.touch(p)
	return p, nil
}

// memberOf returns id's membership in task tid.
func (s *state) memberOf(id core.PeerID, tid core.TaskID) (*member, error) {
	p, err := s.peerOf(id)
	if err != nil {
		return nil, err
	}
	m := p.members[tid]
	if m == nil {
		return nil, fmt.Errorf("%w: %v in %s", ErrUnknownTask, id, tid.Short())
	}
	return m, nil
}

func (s *state) register(r *proto.Register) (*proto.Registered, error) {
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Token), []byte(s.cfg.Token)) != 1 {
		return nil, ErrUnauthorized
	}
	if r.Peer.IsZero() {
		return nil, fmt.Errorf("%w: zero peer id", ErrBadRequest)
	}
	if old := s.peers[r.Peer]; old != nil {
		// A restarted daemon: forget what the old one held and was doing.
		s.dropPeer(old, "re-registered")
	} else if len(s.peers) >= s.cfg.MaxPeers {
		return nil, fmt.Errorf("%w: %d peers", ErrFull, len(s.peers))
	}
	if r.Upload > 0 {
		s.upSum += float64(r.Upload)
		s.upCount++
		s.resizeFull()
	}
	p := &peer{
		id: r.Peer, addr: r.Addr, upload: r.Upload, download: r.Download,
		slots: s.cfg.slotsFor(r.Upload, s.meanUpload()), members: map[core.TaskID]*member{},
	}
	p.score = freeCapacity(p)
	s.touch(p)
	s.peers[p.id] = p
	s.timer.push(deadline{at: p.lastSeen.Add(s.cfg.PeerTimeout), peer: p})
	s.stats.peers.Store(int64(len(s.peers)))
	s.log.Debug("peer registered", "peer", p.id, "addr", p.addr, "slots", p.slots)
	return &proto.Registered{
		HeartbeatMillis:     uint32(s.cfg.HeartbeatInterval / time.Millisecond),
		AssignTimeoutMillis: uint32(s.cfg.AssignTimeout / time.Millisecond),
	}, nil
}

func (s *state) join(j *proto.Join) (*proto.TaskInfo, error) {
	if err := j.Layout.Validate(); err != nil || j.Task == "" || j.Window > proto.MaxWindow {
		return nil, fmt.Errorf("%w: join: layout %+v, window %d", ErrBadRequest, j.Layout, j.Window)
	}
	n := j.Layout.Pieces()
	if len(j.Have) != 0 && len(j.Have) != (n+7)/8 {
		return nil, fmt.Errorf("%w: join: bitmap of %d bytes for %d pieces", ErrBadRequest, len(j.Have), n)
	}
	p, err := s.peerOf(j.Peer)
	if err != nil {
		return nil, err
	}
	t := s.tasks[j.Task]
	switch {
	case t == nil:
		if len(s.tasks) >= s.cfg.MaxTasks {
			return nil, fmt.Errorf("%w: %d tasks", ErrFull, len(s.tasks))
		}
		t = &task{
			id: j.Task, layout: j.Layout, url: j.URL, n: n,
			members: map[core.PeerID]*member{}, count: make([]int32, n),
			held: newBitset(n), srcBusy: newBitset(n), digests: make([]core.Digest, n),
			banned: map[core.PeerID]bool{},
		}
		s.tasks[t.id] = t
		s.stats.tasks.Store(int64(len(s.tasks)))
	case t.layout != j.Layout:
		return nil, fmt.Errorf("%w: %s is %+v, join says %+v", ErrTaskMismatch, t.id.Short(), t.layout, j.Layout)
	}
	if old := p.members[t.id]; old != nil {
		s.removeMember(old) // a re-join replaces the old view
		if s.tasks[t.id] == nil {
			s.tasks[t.id] = t // removeMember deleted the now empty task
			s.stats.tasks.Store(int64(len(s.tasks)))
		}
	}
	m := &member{
		peer: p, task: t, have: newBitset(n), done: newBitset(n), pending: newBitset(n),
		assigns: map[core.PieceIndex]*assignment{}, serving: map[*assignment]struct{}{},
		failed: map[core.PieceIndex][]core.PeerID{}, freePos: -1, window: int(j.Window),
	}
	t.idleMembers += boolInt(m.idle()) // before addHolder, which tracks m's changes
	for i := range n {
		if proto.BitmapHas(j.Have, core.PieceIndex(i)) {
			m.done.set(i)
			m.ndone++
			s.addHolder(m, i)
		}
	}
	m.advanceWindow()
	if m.ndone == n {
		t.seeds++
	}
	t.members[p.id] = m
	p.members[t.id] = m
	s.updateFree(m)
	s.markDirty(t)
	return &proto.TaskInfo{
		Task: t.id, Size: uint64(t.layout.Size), PieceSize: uint32(t.layout.PieceSize),
		Peers: uint32(len(t.members)), Seeds: uint32(t.seeds),
	}, nil
}

// addHolder makes m a server of piece i.
func (s *state) addHolder(m *member, i int) {
	if m.have.has(i) || m.task.banned[m.peer.id] {
		return
	}
	t := m.task
	m.have.set(i)
	m.nhave++
	t.count[i]++
	t.held.set(i)
	switch t.count[i] {
	case 1:
		m.addSole(+1)
	case 2:
		t.otherHolder(m, i).addSole(-1)
	}
	if m.nhave == 1 {
		s.updateFree(m)
	}
}

// removeHolder stops m serving piece i.
func (s *state) removeHolder(m *member, i int) {
	if !m.have.has(i) {
		return
	}
	t := m.task
	m.have.clear(i)
	m.nhave--
	switch t.count[i]--; t.count[i] {
	case 0:
		t.held.clear(i)
		m.addSole(-1)
	case 1:
		t.otherHolder(m, i).addSole(+1)
	}
	if m.nhave == 0 {
		s.updateFree(m)
	}
}

// addSole changes the number of pieces m alone holds.
func (m *member) addSole(delta int) {
	wasIdle := m.idle()
	before := m.sole
	m.sole += delta
	switch {
	case before == 0 && m.sole > 0:
		m.task.soleMembers++
	case before > 0 && m.sole == 0:
		m.task.soleMembers--
	}
	m.task.idleMembers += boolInt(m.idle()) - boolInt(wasIdle)
}

// idle reports whether m's upload is idle with nothing only it can offer:
// the best place for a piece fresh from the source.
func (m *member) idle() bool { return m.peer.uploads == 0 && m.sole == 0 }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// otherHolder returns a holder of piece i other than m. The caller knows
// one exists.
func (t *task) otherHolder(m *member, i int) *member {
	for _, h := range t.members {
		if h != m && h.have.has(i) {
			return h
		}
	}
	panic("scheduler: piece count out of step with holders")
}

// updateFree puts m in or takes it out of its task's free-parent list.
func (s *state) updateFree(m *member) {
	t := m.task
	want := m.nhave > 0 && m.peer.hasFreeSlot() && !t.banned[m.peer.id] && t.members[m.peer.id] == m
	switch {
	case want && m.freePos < 0:
		m.freePos = len(t.free)
		t.free = append(t.free, m)
	case !want && m.freePos >= 0:
		last := t.free[len(t.free)-1]
		t.free[m.freePos] = last
		last.freePos = m.freePos
		t.free[len(t.free)-1] = nil
		t.free = t.free[:len(t.free)-1]
		m.freePos = -1
	}
}

// setUploads changes p's counted uploads and the free lists it is on.
func (s *state) setUploads(p *peer, delta int) {
	wasFree := p.hasFreeSlot()
	if idleChange := (p.uploads == 0) != (p.uploads+delta == 0); idleChange {
		for _, m := range p.members {
			if m.sole == 0 {
				m.task.idleMembers += boolInt(p.uploads+delta == 0) - boolInt(p.uploads == 0)
			}
		}
	}
	p.uploads += delta
	p.score = freeCapacity(p)
	if p.hasFreeSlot() != wasFree {
		s.noteFull(p)
		for _, m := range p.members {
			s.updateFree(m)
			if !wasFree {
				s.markDirty(m.task)
			}
		}
	}
}

func (s *state) markDirty(t *task) {
	if !t.isDirty && len(t.waiters) > 0 {
		t.isDirty = true
		s.dirty = append(s.dirty, t)
	}
}

// advanceWindow moves una over the acknowledged prefix.
func (m *member) advanceWindow() {
	for m.una < m.task.n && m.done.has(m.una) {
		m.una++
	}
}

// assign records a new assignment of piece i to child, from parent (nil:
// the source).
func (s *state) assign(child, parent *member, i int, now time.Time) {
	a := &assignment{child: child, piece: core.PieceIndex(i), parent: parent, start: now, deadline: now.Add(s.cfg.AssignTimeout)}
	child.assigns[a.piece] = a
	child.pending.set(i)
	t := child.task
	if parent == nil {
		t.srcBusy.set(i)
		t.srcInflight++
		s.stats.fromSource.Add(1)
	} else {
		parent.serving[a] = struct{}{}
		s.setUploads(parent.peer, +1)
		s.stats.fromPeers.Add(1)
	}
	s.timer.push(deadline{at: a.deadline, assign: a})
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		from := "source"
		if parent != nil {
			from = parent.peer.addr
		}
		s.log.Debug("assign", "task", t.id.Short(), "piece", i, "child", child.peer.addr, "from", from,
			"parent_uploads", uploadsOf(parent), "holders", t.count[i])
	}
}

// uploadsOf is parent's counted uploads, -1 for the source (debug log).
func uploadsOf(parent *member) int {
	if parent == nil {
		return -1
	}
	return parent.peer.uploads
}

// release ends an assignment, freeing its parent slot or source slot.
func (s *state) release(a *assignment) {
	if a.released {
		return
	}
	a.released = true
	c, t := a.child, a.child.task
	delete(c.assigns, a.piece)
	c.pending.clear(int(a.piece))
	if a.parent == nil {
		t.srcBusy.clear(int(a.piece))
		t.srcInflight--
	} else {
		delete(a.parent.serving, a)
		s.setUploads(a.parent.peer, -1)
	}
	s.markDirty(t)
}

// noteFailure remembers that parent (zero: the source) failed piece i for m.
func (m *member) noteFailure(i core.PieceIndex, parent core.PeerID) {
	for _, p := range m.failed[i] {
		if p == parent {
			return
		}
	}
	m.failed[i] = append(m.failed[i], parent)
}

// shunFor is how long a parent that failed a child as unreachable ranks
// after the child's other holders. A pair that cannot connect (a firewall,
// a lost route; in the lab, an overflowing neighbour table) fails every
// fetch after the daemon's dial timeout, so its next fetches had better
// go elsewhere; a shunned parent is still used when no other holder is
// free, so a small swarm does not stall, and after shunFor it is tried
// again as usual.
const shunFor = 30 * time.Second

// shun makes parent rank last for m until until.
func (m *member) shun(parent core.PeerID, until time.Time) {
	if m.shunned == nil {
		m.shunned = map[core.PeerID]time.Time{}
	}
	m.shunned[parent] = until
}

// shuns reports whether m ranks parent last at now.
func (m *member) shuns(parent core.PeerID, now time.Time) bool {
	if len(m.shunned) == 0 {
		return false
	}
	until, ok := m.shunned[parent]
	if ok && !now.Before(until) {
		delete(m.shunned, parent)
		return false
	}
	return ok
}

func (m *member) hasFailed(i core.PieceIndex, parent core.PeerID) bool {
	if len(m.failed) == 0 {
		return false
	}
	for _, p := range m.failed[i] {
		if p == parent {
			return true
		}
	}
	return false
}

func (s *state) pieceDone(d *proto.PieceDone) error {
	m, err := s.memberOf(d.Peer, d.Task)
	if err != nil {
		return err
	}
	t := m.task
	for _, dp := range d.Pieces {
		if int(dp.Index) >= t.n {
			return fmt.Errorf("%w: piece %d of %d", ErrBadRequest, dp.Index, t.n)
		}
	}
	debug := s.log.Enabled(context.Background(), slog.LevelDebug)
	for _, dp := range d.Pieces {
		i := int(dp.Index)
		a := m.assigns[dp.Index]
		if a != nil {
			s.release(a)
			if debug {
				s.log.Debug("piece done", "task", t.id.Short(), "piece", i, "peer", m.peer.addr,
					"held", time.Since(a.start), "batch", len(d.Pieces))
			}
		}
		if m.done.has(i) {
			// Held already (from its Join bitmap, or reported twice):
			// nothing changes but a digest the task did not know yet,
			// without which no child could verify the piece.
			if t.digests[i].IsZero() && !t.banned[m.peer.id] {
				t.digests[i] = dp.Digest
			}
			continue
		}
		switch known := t.digests[i]; {
		case known.IsZero():
			// The first report wins: normally the peer that fetched the
			// piece from the source and computed it there.
			t.digests[i] = dp.Digest
		case !dp.Digest.IsZero() && dp.Digest != known:
			s.log.Warn("piece reported with another digest; not offering it from this peer",
				"task", t.id.Short(), "piece", i, "peer", m.peer.id)
			continue
		}
		m.done.set(i)
		m.ndone++
		delete(m.failed, dp.Index)
		s.addHolder(m, i)
		s.stats.piecesDone.Add(1)
		if m.ndone == t.n {
			t.seeds++
		}
	}
	m.advanceWindow()
	s.markDirty(t)
	return nil
}

func (s *state) pieceFailed(f *proto.PieceFailed) error {
	m, err := s.memberOf(f.Peer, f.Task)
	if err != nil {
		return err
	}
	t := m.task
	if int(f.Index) >= t.n {
		return fmt.Errorf("%w: piece %d of %d", ErrBadRequest, f.Index, t.n)
	}
	if a := m.assigns[f.Index]; a != nil {
		s.release(a)
	}
	s.stats.failures.Add(1)
	if f.Reason == proto.ReasonLocal {
		return nil
	}
	if !f.Parent.IsZero() {
		m.noteFailure(f.Index, f.Parent)
	}
	parent := t.members[f.Parent]
	switch f.Reason {
	case proto.ReasonUnreachable:
		if !f.Parent.IsZero() {
			m.shun(f.Parent, time.Now().Add(shunFor))
		}
	case proto.ReasonCorrupt:
		if !f.Parent.IsZero() && !t.banned[f.Parent] {
			s.stats.corrupt.Add(1)
			s.log.Warn("peer served a corrupt piece; excluded from the task", "task", t.id.Short(), "piece", f.Index, "parent", f.Parent, "reporter", m.peer.id)
			t.banned[f.Parent] = true
			if parent != nil {
				parent.have.each(func(i int) { s.removeHolder(parent, i) })
				s.updateFree(parent)
			}
		}
	case proto.ReasonEvicted:
		if parent != nil {
			s.removeHolder(parent, int(f.Index))
		}
	}
	return nil
}

func (s *state) evicted(e *proto.Evicted) error {
	m, err := s.memberOf(e.Peer, e.Task)
	if err != nil {
		return err
	}
	for _, i := range e.Indices {
		if int(i) >= m.task.n {
			return fmt.Errorf("%w: evicted piece %d of %d", ErrBadRequest, i, m.task.n)
		}
	}
	for _, i := range e.Indices {
		if m.have.has(int(i)) {
			s.stats.evicted.Add(1)
		}
		s.removeHolder(m, int(i))
	}
	return nil
}

func (s *state) leave(l *proto.Leave) error {
	p, err := s.peerOf(l.Peer)
	if err != nil {
		return err
	}
	if l.All {
		s.dropPeer(p, "left")
		return nil
	}
	m := p.members[l.Task]
	if m == nil {
		return fmt.Errorf("%w: %v in %s", ErrUnknownTask, l.Peer, l.Task.Short())
	}
	s.removeMember(m)
	return nil
}

// expect records that n members in all will join task id (0: forget).
func (s *state) expect(id core.TaskID, n int) error {
	switch {
	case !id.Valid() || n < 0:
		return fmt.Errorf("%w: expect %d members of task %q", ErrBadRequest, n, id)
	case n == 0:
		delete(s.expected, id)
	case s.expected[id] == 0 && len(s.expected) >= s.cfg.MaxTasks:
		return fmt.Errorf("%w: %d tasks expect members", ErrFull, len(s.expected))
	default:
		s.expected[id] = n
	}
	if t := s.tasks[id]; t != nil {
		s.markDirty(t) // a smaller share may have grown
	}
	s.log.Debug("task expects members", "task", id.Short(), "members", n)
	return nil
}

func (s *state) heartbeat(h *proto.Heartbeat) error {
	_, err := s.peerOf(h.Peer)
	return err
}

// dropPeer forgets p entirely.
func (s *state) dropPeer(p *peer, why string) {
	for _, m := range p.members {
		s.removeMember(m)
	}
	p.gone = true
	delete(s.peers, p.id)
	delete(s.full, p)
	if p.upload > 0 {
		s.upSum -= float64(p.upload)
		s.upCount--
		s.resizeFull()
	}
	s.stats.peers.Store(int64(len(s.peers)))
	s.log.Debug("peer dropped", "peer", p.id, "why", why)
}

// removeMember takes m out of its task: its assignments (as child and as
// parent) are released for re-scheduling and its pieces no longer count.
func (s *state) removeMember(m *member) {
	t := m.task
	for _, a := range m.assigns {
		s.release(a)
	}
	for a := range m.serving {
		a.child.noteFailure(a.piece, m.peer.id)
		s.release(a)
	}
	m.have.each(func(i int) { s.removeHolder(m, i) })
	if m.ndone == t.n {
		t.seeds--
	}
	t.idleMembers -= boolInt(m.idle())
	delete(t.members, m.peer.id)
	delete(m.peer.members, t.id)
	s.updateFree(m)
	for _, w := range t.waiters {
		if w.m == m && !w.done {
			s.answer(w, &proto.Schedule{State: proto.StateWait, RetryMillis: s.retryMillis()}, nil)
		}
	}
	if len(t.members) == 0 {
		for _, w := range t.waiters {
			s.answer(w, nil, ErrUnknownTask)
		}
		delete(s.tasks, t.id)
		s.stats.tasks.Store(int64(len(s.tasks)))
	}
	s.markDirty(t)
}

func (s *state) retryMillis() uint32 { return uint32(s.cfg.RetryAfter / time.Millisecond) }

// answer replies to a parked request once.
func (s *state) answer(w *waiter, sc *proto.Schedule, err error) {
	if w.done {
		return
	}
	w.done = true
	w.res <- result[*proto.Schedule]{sc, err}
	s.stats.waiting.Add(-1)
}

// expire handles every deadline that has passed.
func (s *state) expire(now time.Time) {
	for len(s.timer) > 0 && !s.timer[0].at.After(now) {
		d := s.timer.pop()
		switch {
		case d.assign != nil:
			a := d.assign
			if a.released {
				continue
			}
			s.stats.timeouts.Add(1)
			parent := core.PeerID{}
			if a.parent != nil {
				parent = a.parent.peer.id
			}
			s.log.Debug("assignment timed out", "task", a.child.task.id.Short(), "piece", a.piece, "child", a.child.peer.id, "parent", parent)
			if a.parent != nil {
				a.child.noteFailure(a.piece, parent)
			}
			s.release(a)
		case d.peer != nil:
			p := d.peer
			if p.gone {
				continue
			}
			if at := p.lastSeen.Add(s.cfg.PeerTimeout); at.After(now) {
				s.timer.push(deadline{at: at, peer: p})
				continue
			}
			s.stats.expired.Add(1)
			s.dropPeer(p, "heartbeat timeout")
		case d.wait != nil:
			w := d.wait
			if !w.done {
				s.answer(w, &proto.Schedule{State: proto.StateWait, RetryMillis: s.retryMillis()}, nil)
			}
		}
	}
}
