package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/bulk"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/server"
	"ward/internal/testutil"
)

// obsPerPatient is how many observations each seeded patient has.
const obsPerPatient = 10

// exportSizes are the patient counts BenchmarkExport seeds: 10,000 always,
// 100,000 (with a million observations) under WARD_BENCH_LARGE=1.
func exportSizes() []int {
	if os.Getenv("WARD_BENCH_LARGE") == "1" {
		return []int{10000, 100000}
	}
	return []int{10000}
}

// newServer is an in-process ward on a fresh database of backend.
func newServer(b *testing.B, backend string, edit func(*config.Config)) *server.Server {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = testutil.URLFor(b, backend)
	cfg.LogLevel = "error"
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		b.Fatalf("server.New: %v", err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv
}

// BenchmarkExport is a system-level Bulk Data export of every type over the
// real source (directory and clinical stores) into the blob directory,
// after seeding patients with ten observations each. The export row is
// created as the kick-off handler creates it and the engine runs it to
// completion, as the River job would. Every output file is read back and
// its lines counted: a count that differs from what was seeded fails the
// benchmark.
//
// Besides resources/s and MB/s of NDJSON it reports the process's peak
// resident set during the export (VmHWM, reset just before it through
// /proc/self/clear_refs), split into its anonymous and file-backed parts
// (RssAnon, RssFile, sampled: SQLite maps the database file, up to its
// mmap_size, which shows as RSS), and the peak Go HeapInuse, sampled every
// 10 ms, to show that memory does not grow with the data. Seeding happens
// before any of it and is not measured. WARD_BENCH_CPUPROFILE=file
// writes a CPU profile of the last export alone (no seeding in it).
func BenchmarkExport(b *testing.B) {
	for _, backend := range testutil.Backends() {
		for _, n := range exportSizes() {
			b.Run(fmt.Sprintf("%s/patients=%d", backend, n), func(b *testing.B) {
				srv := newServer(b, backend, nil)
				svc := srv.Services()
				s := seed(b, svc.DB, n, obsPerPatient)
				want := map[string]int64{"Patient": int64(s.patients), "Observation": int64(s.observations)}
				b.Run("export", func(b *testing.B) {
					ctx := actor.System(context.Background())
					var resources, bytes int64
					var peakRSS, startRSS, peakHeap, peakAnon, peakFile uint64
					var wall time.Duration
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						runtime.GC()
						debug.FreeOSMemory()
						resetPeakRSS()
						rss0 := procStatusKB("VmRSS")
						id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
						ex := &bulk.Export{ID: id, ClientID: "bench", Level: bulk.LevelSystem, Types: svc.ExportSource.Types(),
							OutputFormat: bulk.OutputFormat, Status: bulk.StatusAccepted,
							RequestURL: "http://localhost/fhir/$export", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
						if err := svc.DB.CreateExport(ctx, ex); err != nil {
							b.Fatal(err)
						}
						stopProfile := startExportProfile(b, i == b.N-1)
						sampler := startHeapSampler(10 * time.Millisecond)
						b.StartTimer()
						start := time.Now()
						if err := svc.Export.Run(ctx, id); err != nil {
							b.Fatalf("export: %v", err)
						}
						took := time.Since(start)
						b.StopTimer()
						heap := sampler.stop()
						peakAnon, peakFile = max(peakAnon, sampler.anon), max(peakFile, sampler.file)
						stopProfile()
						wall += took
						peakRSS, startRSS, peakHeap = max(peakRSS, procStatusKB("VmHWM")), max(startRSS, rss0), max(peakHeap, heap)
						got, err := svc.DB.GetExport(ctx, id)
						if err != nil {
							b.Fatal(err)
						}
						if got.Status != bulk.StatusCompleted {
							b.Fatalf("export %s: status %s (%s)", id, got.Status, got.Failure)
						}
						lines := verifyOutput(b, svc, got, want)
						for _, f := range got.Output {
							bytes += f.Size
						}
						resources += lines
						if err := svc.Blobs.DeletePrefix(ctx, "exports/"+id); err != nil {
							b.Fatal(err)
						}
						if err := svc.DB.DeleteExport(ctx, id); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					b.StopTimer()
					secs := wall.Seconds()
					b.ReportMetric(float64(resources)/secs, "resources/s")
					b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
					b.ReportMetric(secs/float64(b.N), "wall-s")
					b.ReportMetric(float64(bytes)/float64(b.N)/1e6, "MB-written")
					b.ReportMetric(float64(startRSS)/1024, "rss-start-MB")
					b.ReportMetric(float64(peakRSS)/1024, "rss-peak-MB")
					b.ReportMetric(float64(peakHeap)/(1<<20), "heap-inuse-peak-MB")
					b.ReportMetric(float64(peakAnon)/1024, "rss-anon-peak-MB")
					b.ReportMetric(float64(peakFile)/1024, "rss-file-peak-MB")
				})
			})
		}
	}
}

// verifyOutput reads every output file of ex back, checks that each line
// is a JSON object of the file's type, and that the lines per type are
// what was seeded (and what the manifest says). It returns the lines.
func verifyOutput(b *testing.B, svc *server.Services, ex *bulk.Export, want map[string]int64) int64 {
	b.Helper()
	ctx := context.Background()
	got := map[string]int64{}
	var total int64
	for _, f := range ex.Output {
		r, _, err := svc.Blobs.Open(ctx, f.Key)
		if err != nil {
			b.Fatalf("open %s: %v", f.Name, err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		prefix := []byte(`{"resourceType":"` + f.Type + `"`)
		var n int64
		for sc.Scan() {
			if !bytes.HasPrefix(sc.Bytes(), prefix) {
				b.Fatalf("%s line %d is not a %s: %.80s", f.Name, n+1, f.Type, sc.Bytes())
			}
			n++
		}
		if err := sc.Err(); err != nil {
			b.Fatalf("read %s: %v", f.Name, err)
		}
		_ = r.Close()
		if n != f.Count {
			b.Fatalf("%s has %d lines, the manifest says %d", f.Name, n, f.Count)
		}
		got[f.Type] += n
		total += n
	}
	for typ, n := range want {
		if got[typ] != n {
			b.Fatalf("exported %d %s resources, seeded %d", got[typ], typ, n)
		}
	}
	for typ, n := range got {
		if _, ok := want[typ]; !ok {
			b.Fatalf("exported %d %s resources, seeded none", n, typ)
		}
	}
	return total
}

// BenchmarkExportCeiling is the ceiling for BenchmarkExport: the same
// resources (10,000 patients with their identifiers, 100,000
// observations), built in memory, mapped to FHIR and encoded as NDJSON
// lines with the export's encoder settings, with no database and no files.
// "encode" encodes resources mapped beforehand, so the difference is the
// cost of mapping.
func BenchmarkExportCeiling(b *testing.B) {
	const n = 10000
	const base = "http://localhost:8080/fhir"
	now := time.Now().UTC().Truncate(time.Microsecond)
	users := make([]*directory.User, n)
	var obs []*clinical.Observation
	for i := range users {
		u := seedPatient(i)
		u.ID, u.Version, u.Registered, u.UpdatedAt = int64(i+1), 1, now, now
		users[i] = u
		for j := range obsPerPatient {
			o := seedObservation(u.ID, j)
			o.ID, o.Version, o.UpdatedAt = int64(len(obs)+1), 1, now
			obs = append(obs, o)
		}
	}
	resources := n + len(obs)
	encodeAll := func(w io.Writer, each func(func(any))) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		var err error
		each(func(v any) {
			if err == nil {
				err = enc.Encode(v)
			}
		})
		return err
	}
	mapped := func(yield func(any)) {
		for i, u := range users {
			yield(fhir.PatientFromUser(u, []directory.Identifier{seedIdentifier(i)}, nil, base))
		}
		for _, o := range obs {
			yield(fhir.ObservationFromClinical(o, base))
		}
	}
	b.Run("map+encode", func(b *testing.B) {
		var w countingWriter
		for b.Loop() {
			if err := encodeAll(&w, mapped); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, resources, w.n)
	})
	b.Run("encode", func(b *testing.B) {
		pre := make([]any, 0, resources)
		mapped(func(v any) { pre = append(pre, v) })
		var w countingWriter
		for b.Loop() {
			if err := encodeAll(&w, func(yield func(any)) {
				for _, v := range pre {
					yield(v)
				}
			}); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, resources, w.n)
	})
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func reportRate(b *testing.B, perOp int, bytes int64) {
	secs := b.Elapsed().Seconds()
	if secs == 0 {
		return
	}
	b.ReportMetric(float64(perOp*b.N)/secs, "resources/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
}

// procStatusKB reads a "kB" field (VmRSS, VmHWM) of /proc/self/status; 0
// where there is none (not Linux).
func procStatusKB(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux 4.0+), so the
// peak read after the export is the export's.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// heapSampler records the largest HeapInuse seen. It reads runtime/metrics
// (heap objects plus the unused part of in-use spans, which is HeapInuse),
// which, unlike runtime.ReadMemStats, does not stop the world.
type heapSampler struct {
	quit chan struct{}
	wg   sync.WaitGroup
	peak atomic.Uint64
	// anon and file are the peaks of RssAnon (the heap, stacks, SQLite's
	// page cache) and RssFile (mapped files: the binary, and SQLite's
	// mmap of the database, up to its mmap_size), in kB.
	anon, file uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{quit: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64() + samples[1].Value.Uint64(); v > s.peak.Load() {
				s.peak.Store(v)
			}
			s.anon, s.file = max(s.anon, procStatusKB("RssAnon")), max(s.file, procStatusKB("RssFile"))
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) stop() uint64 {
	close(s.quit)
	s.wg.Wait()
	return s.peak.Load()
}

// startExportProfile starts a CPU profile into WARD_BENCH_CPUPROFILE when
// set and on is true, the benchmark's name appended ("export.prof" becomes
// "export.prof.BenchmarkExport_sqlite_patients=10000_export"); the returned
// func stops it.
func startExportProfile(b *testing.B, on bool) func() {
	path := os.Getenv("WARD_BENCH_CPUPROFILE")
	if !on || path == "" {
		return func() {}
	}
	path += "." + strings.ReplaceAll(b.Name(), "/", "_")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
