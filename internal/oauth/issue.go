package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/oauth/tokens"
)

// maxIssueBatch bounds how many token responses one write carries.
const maxIssueBatch = 256

// issueBatcher writes the rows and audit events of concurrent
// client-credentials responses together: one transaction with a multi-row
// insert for the tokens and one for their events, instead of a
// transaction of several statements per token. A response is sent only
// after its batch has committed, so every token handed out is durable and
// audited. If a batch fails, its requests are retried one by one, so one
// bad request cannot fail the others.
type issueBatcher struct {
	p    *Provider
	jobs chan *issueJob
	stop chan struct{}
	once sync.Once
}

type issueJob struct {
	rows  []*tokens.Token
	entry audit.Entry
	done  chan error
}

func newIssueBatcher(p *Provider) *issueBatcher {
	b := &issueBatcher{p: p, jobs: make(chan *issueJob), stop: make(chan struct{})}
	go b.run()
	return b
}

// write queues rows and their audit entry and waits for the commit.
func (b *issueBatcher) write(ctx context.Context, rows []*tokens.Token, entry audit.Entry) error {
	j := &issueJob{rows: rows, entry: entry, done: make(chan error, 1)}
	errClosed := errors.New("issue token: the authorization server is shutting down")
	select {
	case <-b.stop:
		return errClosed
	default:
	}
	select {
	case b.jobs <- j:
	case <-b.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

// close stops the batcher once the batch in progress is written.
func (b *issueBatcher) close() { b.once.Do(func() { close(b.stop) }) }

func (b *issueBatcher) run() {
	for {
		var first *issueJob
		select {
		case first = <-b.jobs:
		case <-b.stop:
			return
		}
		batch := []*issueJob{first}
	drain:
		for len(batch) < maxIssueBatch {
			select {
			case j := <-b.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		b.flush(batch)
	}
}

func (b *issueBatcher) flush(batch []*issueJob) {
	ctx := actor.System(context.Background())
	err := b.commit(ctx, batch)
	if err == nil || len(batch) == 1 {
		for _, j := range batch {
			j.done <- err
		}
		return
	}
	for _, j := range batch {
		j.done <- b.commit(ctx, []*issueJob{j})
	}
}

func (b *issueBatcher) commit(ctx context.Context, batch []*issueJob) error {
	var rows []*tokens.Token
	entries := make([]audit.Entry, 0, len(batch))
	for _, j := range batch {
		rows = append(rows, j.rows...)
		entries = append(entries, j.entry)
	}
	err := b.p.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := b.p.d.Tokens.CreateTokens(ctx, rows); err != nil {
			return err
		}
		return b.p.d.Audit.RecordEach(ctx, entries)
	})
	if err != nil {
		return fmt.Errorf("issue %d tokens: %w", len(rows), err)
	}
	return nil
}
