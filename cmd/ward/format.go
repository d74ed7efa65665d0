package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Output formats of the commands that print secrets for scripts.
const (
	formatText = "text"
	formatJSON = "json"
	formatEnv  = "env"
)

// outputFlags are --format and its shorthand --json.
type outputFlags struct {
	format string
	asJSON bool
}

func (o *outputFlags) register(cmd *cobra.Command, envHelp string) {
	cmd.Flags().StringVar(&o.format, "format", formatText,
		`output: text (for people), json, or env (export lines for eval "$(…)"`+envHelp+`)`)
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "same as --format json")
}

// resolve returns the chosen format, refusing an unknown one and --json
// beside a different --format.
func (o *outputFlags) resolve(cmd *cobra.Command) (string, error) {
	f := strings.ToLower(strings.TrimSpace(o.format))
	if !slices.Contains([]string{formatText, formatJSON, formatEnv}, f) {
		return "", fmt.Errorf("--format %q: want text, json or env", o.format)
	}
	if o.asJSON {
		if cmd.Flags().Changed("format") && f != formatJSON {
			return "", fmt.Errorf("--json and --format %s disagree: give one", f)
		}
		f = formatJSON
	}
	return f, nil
}

// shellQuote quotes s for a POSIX shell: in single quotes, where a single
// quote inside is written as end quote, backslash-escaped quote, new quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envLines writes "export NAME='value'" for each pair, and "unset NAME" for
// a pair whose value is empty, so that evaluating the lines never leaves a
// stale value from an earlier run (a public client's secret, say).
func envLines(w io.Writer, pairs ...[2]string) error {
	var b strings.Builder
	for _, p := range pairs {
		if p[1] == "" {
			fmt.Fprintf(&b, "unset %s\n", p[0])
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", p[0], shellQuote(p[1]))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
