// Command ward is ward's single binary: the server and its administration
// commands. Each command lives in its own file and only wires flags to
// internal packages; no logic lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"ward/internal/config"
	"ward/internal/server"
)

func main() {
	// SIGTERM (orchestrators) and SIGINT (Ctrl-C) cancel ctx; serve then
	// shuts down gracefully and other commands stop at their next query.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app is what every command shares: its I/O, environment and the persistent
// flags. Tests build one per run so nothing leaks between runs.
type app struct {
	env            []string
	stdin          io.Reader
	stdout, stderr io.Writer
	dataDir        string
}

// exitError ends the process with a status, after the command has already
// said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the ward command line args and returns the exit status.
func run(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stderr, "ward: %v\n", err)
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ward",
		Short: "ward: identity, access, audit and integration services for health systems",
		Long: `ward is one binary that serves identity, access, audit and integration services
for health information systems. Run "ward serve" to start it, and "ward demo"
to fill a new instance with fake data to try it on.

Every command reads WARD_* environment variables (WARD_DATABASE_URL, WARD_ISSUER,
WARD_MASTER_KEY, ...), so the CLI and a running server can share one database.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.dataDir, "data-dir", config.Default().DataDir,
		"directory for the SQLite database and key file (env WARD_DATA_DIR)")
	clients := a.clientCmd()
	clients.AddCommand(a.clientTokenCmds()...)
	root.AddCommand(
		a.serveCmd(),
		a.migrateCmd(),
		a.demoCmd(),
		a.addUserCmd(),
		a.passwordResetCmd(),
		a.auditCmd(),
		a.userCmd(),
		clients,
		a.interventionCmd(),
		a.connectorCmd(),
		a.webhookCmd(), // issue 15
		a.integrationCmd(),
		a.tokenCmd(),
		a.serviceAccountCmd(),
		a.idpClientCmd(),
		a.keysCmd(),
		a.versionCmd(),
	)
	return root
}

// config returns the configuration for cmd: defaults, then WARD_*
// variables, then flags the user set explicitly.
func (a *app) config(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.FromEnv(config.Default(), a.env)
	if err != nil {
		return cfg, fmt.Errorf("environment:\n%w", err)
	}
	if cmd.Flags().Changed("data-dir") {
		cfg.DataDir = a.dataDir
	}
	return cfg, nil
}

// withServices runs fn with the services wired (and the database migrated)
// for the command, and closes them afterwards.
func (a *app) withServices(cmd *cobra.Command, fn func(svc *server.Services) error) error {
	svc, err := a.services(cmd)
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc)
}

// services opens the database and wires the services for an administrative
// command, bringing the schema up to date first: commands are often run on
// a fresh deployment before the server has ever started.
func (a *app) services(cmd *cobra.Command) (*server.Services, error) {
	cfg, err := a.config(cmd)
	if err != nil {
		return nil, err
	}
	// The configuration serve would refuse is refused here too, before the
	// log settings below replace the user's (migrate accepted a bad level).
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := checkDataDir(cmd, cfg, cmd.Flags().Changed("data-dir"), a.env); err != nil {
		return nil, err
	}
	// Commands speak through stdout/stderr; the log only carries warnings.
	cfg.LogFormat, cfg.LogLevel = config.LogText, "warn"
	svc, err := server.OpenServices(cmd.Context(), cfg,
		server.WithLogger(server.NewLogger(cfg, a.stderr)), server.WithVersion(version()))
	if err != nil {
		return nil, err
	}
	if err := svc.Migrate(cmd.Context()); err != nil {
		return nil, errors.Join(err, svc.Close())
	}
	return svc, nil
}
