package jobs

import (
	"errors"

	"github.com/riverqueue/river"
)

// Registers joins the worker registrations of several packages into one
// Deps.Register, so the wiring need not import River to combine them.
func Registers(fs ...func(*river.Workers) error) func(*river.Workers) error {
	return func(w *river.Workers) error {
		errs := make([]error, 0, len(fs))
		for _, f := range fs {
			errs = append(errs, f(w))
		}
		return errors.Join(errs...)
	}
}
