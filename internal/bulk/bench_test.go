package bulk_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/blob"
	"ward/internal/bulk"
	"ward/internal/store"
)

// memStore is an in-memory bulk.Store, so the benchmark measures the
// export path (source, encoding, files), not a database.
type memStore struct {
	mu sync.Mutex
	m  map[string]bulk.Export
}

func (s *memStore) CreateExport(_ context.Context, e *bulk.Export) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[e.ID]; ok {
		return apperr.New(apperr.Conflict, "exists")
	}
	e.Version = 1
	s.m[e.ID] = *e
	return nil
}

func (s *memStore) GetExport(_ context.Context, id string) (*bulk.Export, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no export")
	}
	return &e, nil
}

func (s *memStore) UpdateExport(_ context.Context, e *bulk.Export) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[e.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "no export")
	}
	if cur.Version != e.Version {
		return apperr.New(apperr.Conflict, "stale")
	}
	e.Version++
	s.m[e.ID] = *e
	return nil
}

func (s *memStore) CountActiveExports(context.Context, string) (int, error) { return 0, nil }

func (s *memStore) ExpiredExports(context.Context, time.Time, int) ([]*bulk.Export, error) {
	return nil, nil
}

// ListExports and CountExports are the administrators' view, which the
// benchmark does not use.
func (s *memStore) ListExports(context.Context, store.Page) ([]*bulk.Export, string, error) {
	return nil, "", nil
}

func (s *memStore) CountExports(context.Context) (int, error) { return len(s.m), nil }

func (s *memStore) DeleteExport(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// BenchmarkExport measures the export engine over the fake source against
// the ceiling of encoding the same resources with json.Marshal in a loop.
// The 100,000-patient benchmark over the real Source lives with it.
func BenchmarkExport(b *testing.B) {
	const n = 20000
	src := &fakeSource{}
	for p := int64(1); p <= n/4; p++ {
		src.add("Patient", 1, p, recent, "")
		src.add("Observation", 3, p, recent, "a")
	}
	types := []string{"Patient", "Observation"}

	b.Run("engine", func(b *testing.B) {
		blobs, err := blob.NewDir(filepath.Join(b.TempDir(), "blobs"))
		if err != nil {
			b.Fatal(err)
		}
		defer blobs.Close()
		st := &memStore{m: map[string]bulk.Export{}}
		eng, err := bulk.NewEngine(st, blobs, src, bulk.EngineConfig{LinesPerFile: 10000})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var bytes int64
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			id := "bench-" + strconv.Itoa(i)
			if err := st.CreateExport(ctx, &bulk.Export{ID: id, ClientID: "c", Level: bulk.LevelSystem, Types: types,
				OutputFormat: bulk.OutputFormat, Status: bulk.StatusAccepted, CreatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			if err := eng.Run(ctx, id); err != nil {
				b.Fatal(err)
			}
			ex, _ := st.GetExport(ctx, id)
			for _, f := range ex.Output {
				bytes += f.Size
			}
			b.StopTimer()
			if err := blobs.DeletePrefix(ctx, "exports/"+id); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b, n, bytes)
	})

	b.Run("json.Marshal", func(b *testing.B) {
		ctx := context.Background()
		var bytes int64
		for b.Loop() {
			for _, typ := range types {
				if err := src.Scan(ctx, typ, bulk.Query{}, 0, func(_ int64, res any) error {
					data, err := json.Marshal(res)
					bytes += int64(len(data)) + 1
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, n, bytes)
	})
}

func report(b *testing.B, perOp int, bytes int64) {
	secs := b.Elapsed().Seconds()
	if secs == 0 {
		return
	}
	b.ReportMetric(float64(perOp*b.N)/secs, "resources/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
}
