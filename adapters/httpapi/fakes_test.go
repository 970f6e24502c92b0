package httpapi

import (
	"context"
	"sort"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
)

// fakeDocs is an in-memory Documents with the app's semantics (NOT_FOUND
// for deleted, conditional puts, all-or-nothing batches, bodies validated
// as the app validates them, which the API leaves to it) and the
// reference query evaluator. Writes are published to feed when set.
type fakeDocs struct {
	mu    sync.Mutex
	docs  map[string]domain.Document // collection + "/" + key
	wall  int64
	feed  *fakeFeed
	fail  error                        // when set, every call returns it
	puts  []*domain.Timestamp          // ifVersion of each Put, for assertions
	calls map[string]func() error      // per-method failure injection
	last  map[string]map[string][]byte // last batch puts per collection
	// maxDoc is the document limit bodies are validated against, as the
	// app's MaxDocumentBytes (0: the domain default).
	maxDoc int
}

func newFakeDocs() *fakeDocs {
	return &fakeDocs{docs: map[string]domain.Document{}, calls: map[string]func() error{}, last: map[string]map[string][]byte{}}
}

func (f *fakeDocs) stamp() domain.Timestamp {
	f.wall++
	return domain.Timestamp{Wall: 1000 + f.wall, Node: "n1"}
}

func (f *fakeDocs) injected(method string) error {
	if f.fail != nil {
		return f.fail
	}
	if fn := f.calls[method]; fn != nil {
		return fn()
	}
	return nil
}

func (f *fakeDocs) write(c, key string, op domain.Op, body []byte) domain.Timestamp {
	ts := f.stamp()
	f.docs[c+"/"+key] = domain.Document{Collection: c, Key: key, Data: body, Stamp: ts, Deleted: op == domain.OpDelete}
	if f.feed != nil {
		f.feed.publish(domain.Change{Collection: c, Key: key, Op: op, Data: body, Stamp: ts})
	}
	return ts
}

func (f *fakeDocs) Put(_ context.Context, c, key string, body []byte, ifVersion *domain.Timestamp) (domain.Timestamp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Put"); err != nil {
		return domain.Timestamp{}, err
	}
	if err := domain.ValidateWrite(c, key, domain.OpPut, body, f.maxDoc); err != nil {
		return domain.Timestamp{}, domain.Wrap(domain.CodeInvalidArgument, "fake.Put", err)
	}
	f.puts = append(f.puts, ifVersion)
	if ifVersion != nil {
		cur, ok := f.docs[c+"/"+key]
		live := ok && !cur.Deleted
		if (ifVersion.IsZero() && live) || (!ifVersion.IsZero() && (!live || cur.Stamp != *ifVersion)) {
			return domain.Timestamp{}, domain.Errorf(domain.CodeConflict, "fake.Put", "%s/%s is not at version %s", c, key, ifVersion)
		}
	}
	return f.write(c, key, domain.OpPut, body), nil
}

func (f *fakeDocs) Get(_ context.Context, c, key string) (domain.Document, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Get"); err != nil {
		return domain.Document{}, err
	}
	d, ok := f.docs[c+"/"+key]
	if !ok || d.Deleted {
		return domain.Document{}, domain.Errorf(domain.CodeNotFound, "fake.Get", "%s/%s not found", c, key)
	}
	return d, nil
}

func (f *fakeDocs) Delete(_ context.Context, c, key string) (domain.Timestamp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Delete"); err != nil {
		return domain.Timestamp{}, err
	}
	d, ok := f.docs[c+"/"+key]
	if !ok || d.Deleted {
		return domain.Timestamp{}, domain.Errorf(domain.CodeNotFound, "fake.Delete", "%s/%s not found", c, key)
	}
	return f.write(c, key, domain.OpDelete, nil), nil
}

func (f *fakeDocs) Batch(_ context.Context, c string, puts map[string][]byte, deletes []string) (map[string]domain.Timestamp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Batch"); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(puts))
	for k := range puts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := domain.ValidateWrite(c, k, domain.OpPut, puts[k], f.maxDoc); err != nil {
			return nil, domain.Errorf(domain.CodeOf(err), "fake.Batch", "put %q: %w", k, err)
		}
	}
	f.last[c] = puts
	out := map[string]domain.Timestamp{}
	for _, k := range keys {
		out[k] = f.write(c, k, domain.OpPut, puts[k])
	}
	for _, k := range deletes {
		out[k] = f.write(c, k, domain.OpDelete, nil)
	}
	return out, nil
}

func (f *fakeDocs) all(c string) []domain.Document {
	var out []domain.Document
	for _, d := range f.docs {
		if d.Collection == c {
			out = append(out, d)
		}
	}
	return out
}

func (f *fakeDocs) Find(_ context.Context, c string, q domain.Query) ([]domain.Document, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Find"); err != nil {
		return nil, err
	}
	return domain.ApplyQuery(q, f.all(c))
}

func (f *fakeDocs) Count(_ context.Context, c string, flt domain.Filter) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Count"); err != nil {
		return 0, err
	}
	docs, err := domain.ApplyQuery(domain.Query{Filter: flt}, f.all(c))
	return len(docs), err
}

func (f *fakeDocs) Collections(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("Collections"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range f.docs {
		if !seen[d.Collection] {
			seen[d.Collection] = true
			out = append(out, d.Collection)
		}
	}
	sort.Strings(out)
	return out, nil
}

// fakeFeed is a change log with live subscribers: Watch replays the
// changes after since, then follows new ones, like app.Database.Watch.
type fakeFeed struct {
	mu      sync.Mutex
	changes []domain.Change
	wake    chan struct{} // closed and replaced on every publish
	fail    error         // ends every stream with this error once replayed
	streams []*fakeStream
}

func newFakeFeed() *fakeFeed { return &fakeFeed{wake: make(chan struct{})} }

func (f *fakeFeed) publish(c domain.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.Seq = int64(len(f.changes) + 1)
	f.changes = append(f.changes, c)
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeFeed) Watch(ctx context.Context, since int64) (ChangeStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &fakeStream{out: make(chan domain.Change), cancel: cancel, done: make(chan struct{})}
	f.mu.Lock()
	f.streams = append(f.streams, s)
	if since < 0 {
		since = int64(len(f.changes))
	}
	f.mu.Unlock()
	go s.run(ctx, f, since)
	return s, nil
}

type fakeStream struct {
	out    chan domain.Change
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

func (s *fakeStream) C() <-chan domain.Change { return s.out }
func (s *fakeStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
func (s *fakeStream) Close() { s.cancel(); <-s.done }

func (s *fakeStream) run(ctx context.Context, f *fakeFeed, last int64) {
	defer close(s.done)
	defer close(s.out)
	for {
		f.mu.Lock()
		pending := append([]domain.Change(nil), f.changes[min(last, int64(len(f.changes))):]...)
		wake, fail := f.wake, f.fail
		f.mu.Unlock()
		for _, c := range pending {
			select {
			case s.out <- c:
				last = c.Seq
			case <-ctx.Done():
				return
			}
		}
		if fail != nil {
			s.mu.Lock()
			s.err = fail
			s.mu.Unlock()
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}
