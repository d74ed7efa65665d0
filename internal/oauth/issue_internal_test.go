package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"ward/internal/audit"
	"ward/internal/oauth/tokens"
)

// batchStore fails any batch holding a row whose signature is "bad", and
// records what it committed.
type batchStore struct {
	tokens.Store
	mu        sync.Mutex
	committed map[string]bool
	batches   int
}

func (s *batchStore) CreateTokens(_ context.Context, ts []*tokens.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	for _, t := range ts {
		if t.Signature == "bad" {
			return errors.New("constraint failed")
		}
	}
	for _, t := range ts {
		s.committed[t.Signature] = true
	}
	return nil
}

type batchTx struct{}

func (batchTx) InTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

type batchAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *batchAudit) Record(context.Context, audit.Change) error { return nil }
func (a *batchAudit) RecordEach(_ context.Context, es []audit.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, es...)
	return nil
}

func TestIssueBatcherIsolatesAFailingRequest(t *testing.T) {
	st := &batchStore{committed: map[string]bool{}}
	au := &batchAudit{}
	p := &Provider{d: Deps{Tokens: st, Tx: batchTx{}, Audit: au}}
	b := newIssueBatcher(p)
	defer b.close()

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig := fmt.Sprintf("sig-%d", i)
			if i == 7 {
				sig = "bad"
			}
			errs[i] = b.write(context.Background(), []*tokens.Token{{Signature: sig}},
				audit.Entry{Change: audit.Change{Type: audit.TokenIssued, Comment: sig}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("request %d: err %v", i, err)
		}
		if i != 7 && !st.committed[fmt.Sprintf("sig-%d", i)] {
			t.Errorf("request %d was answered but its token was not committed", i)
		}
	}
	if st.committed["bad"] {
		t.Error("the failing row was committed")
	}
	seen := map[string]int{}
	for _, e := range au.entries {
		seen[e.Comment]++
	}
	for i := range n {
		if i != 7 && seen[fmt.Sprintf("sig-%d", i)] == 0 {
			t.Errorf("request %d has no audit entry", i)
		}
	}
}

func TestIssueBatcherClosed(t *testing.T) {
	b := newIssueBatcher(&Provider{d: Deps{Tokens: &batchStore{committed: map[string]bool{}}, Tx: batchTx{}, Audit: &batchAudit{}}})
	b.close()
	if err := b.write(context.Background(), nil, audit.Entry{}); err == nil {
		t.Fatal("a closed batcher accepted a write")
	}
}
