package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"ward/internal/config"
)

// createsInstance names the commands that may start a new instance: they
// create a data directory that does not exist. serve does not go through
// services; it is listed for the record. demo fills a new instance, so it
// starts one too (and refuses any instance that is not empty).
var createsInstance = map[string]bool{"serve": true, "migrate": true, "demo": true}

// checkDataDir refuses to run cmd against a data directory that does not
// exist, unless cmd starts instances. An administrative command run from
// the wrong directory would otherwise create a fresh database and a fresh
// master key beside it and report success against the wrong instance.
//
// With WARD_DATABASE_URL pointing at PostgreSQL the database is elsewhere,
// but the data directory still holds the master key file that decrypts
// the database's secrets: a new key there could not read them, so the
// command refuses too, unless WARD_MASTER_KEY gives the key. A SQLite URL
// is refused the same way (the data directory also holds the key file,
// the audit checkpoints and the blobs).
func checkDataDir(cmd *cobra.Command, cfg config.Config, dirFromFlag bool, env []string) error {
	if cmd.Parent() == cmd.Root() && createsInstance[cmd.Name()] {
		return nil
	}
	if cfg.DataDir == "" {
		return nil // Validate has made sure the database URL and the key are both set
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	if _, err := os.Stat(abs); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data directory %s: %w", abs, err)
	}
	postgres := strings.HasPrefix(cfg.DatabaseURL, "postgres://") || strings.HasPrefix(cfg.DatabaseURL, "postgresql://")
	if postgres && cfg.MasterKey != "" {
		return nil
	}
	from := "the default ./ward-data in the current directory"
	switch {
	case dirFromFlag:
		from = "--data-dir"
	case envSet(env, "WARD_DATA_DIR"):
		from = "WARD_DATA_DIR"
	}
	what := "a new database and a new master key there"
	if postgres {
		what = "a new master key there, which could not decrypt the secrets in the PostgreSQL database"
	}
	return fmt.Errorf(`data directory %s does not exist (from %s), and %s would create %s.
Point it at the instance you mean: --data-dir DIR (or WARD_DATA_DIR), and WARD_DATABASE_URL
for its database (with WARD_MASTER_KEY when that is PostgreSQL and the key file is not at hand);
or run "ward migrate" first to start a new instance in %s`, abs, from, cmd.CommandPath(), what, abs)
}

// envSet reports whether env sets name to a non-empty value.
func envSet(env []string, name string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
			return true
		}
	}
	return false
}
