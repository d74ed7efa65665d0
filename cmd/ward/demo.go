package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/demo"
	"ward/internal/server"
)

// demoEnvVars are the variables --format env sets. None starts with
// WARD_: every command refuses WARD_ variables it does not know, so an
// exported WARD_ADMIN_EMAIL would stop the next ward command.
const demoEnvVars = `DEMO_PASSWORD, ADMIN_EMAIL, STAFF_ADMIN_EMAIL, CLINICIAN_EMAIL,
PATIENT_ID, PATIENT_EMAIL, CLINIC_ID (the patient's clinic), APP_CLIENT_ID,
APP_REDIRECT_URI, and CLIENT_ID and CLIENT_SECRET (the backend client)`

func (a *app) demoCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "demo [--json | --format env]",
		Short: "Fill an empty instance with clearly fake demo data, and print how to use it",
		Long: `Fill an empty instance with a small, realistic, clearly fake data set and print
how to use each piece:

  - an organization tree: Demo Health Ministry > Demo North Region >
    Demo Riverside Clinic and Demo Hillview Clinic;
  - staff: an admin, a staff_admin, two clinicians and a receptionist;
  - 10 patients with FHIR demographics and medical record numbers, each
    consenting to their clinic, with vital signs, smoking status, HbA1c
    results (LOINC) and procedures (SNOMED CT) from the last year;
  - a SMART patient app (public client, PKCE, redirect to localhost);
  - a backend services client (client_credentials, system/*.rs and the
    Bulk Data export scopes) and its secret.

Every account holds the test role as well, and every name, email and number
is invented. One random password, generated for this run, signs in every
account; it and the backend client's secret are printed once.

demo creates the data directory if it does not exist (like serve and
migrate), but it refuses an instance that already has any user,
organization or client: demo data never mixes with real data. Use a new
data directory (and, on PostgreSQL, a new database) for a demo.

--format env prints export lines for eval "$(ward demo --format env)":
` + demoEnvVars + `.
None starts with WARD_, which ward keeps for its settings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := out.resolve(cmd)
			if err != nil {
				return err
			}
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				res, err := demo.Load(actor.System(cmd.Context()), demo.Deps{
					Tx: svc.DB, Directory: svc.Directory, Clinical: svc.Clinical, Clients: svc.Clients,
				}, demo.Options{})
				var ne *demo.NotEmptyError
				if errors.As(err, &ne) {
					return fmt.Errorf(`%w.
Nothing was changed. Run it against a new instance: ward demo --data-dir ./ward-demo
(and WARD_DATABASE_URL naming a new, empty database when you use PostgreSQL),
then ward serve with the same settings`, err)
				}
				if err != nil {
					return err
				}
				switch format {
				case formatJSON:
					err = a.printJSON(res)
				case formatEnv:
					err = printDemoEnv(a.stdout, res)
				default:
					err = printDemoText(a.stdout, res, cfg.PublicIssuer())
				}
				if err != nil {
					return err
				}
				if format != formatText {
					// Said on stderr, so that eval "$(…)" still tells the
					// user what happened.
					c := res.Counts
					fmt.Fprintf(a.stderr, "ward demo: created %d organizations, %d staff, %d patients (%d consents, %d observations, %d procedures) and %d clients, all fake; the password and the client secret are printed once\n",
						c.Organizations, c.Staff, c.Patients, c.Consents, c.Observations, c.Procedures, c.Clients)
				}
				return nil
			})
		},
	}
	out.register(cmd, ", the variables listed above")
	return cmd
}

// firstClinician is the first staff member holding the clinician role.
func firstClinician(res *demo.Result) demo.Account {
	for _, s := range res.Staff {
		for _, r := range s.Roles {
			if r == "clinician" {
				return s
			}
		}
	}
	return demo.Account{}
}

func printDemoEnv(w io.Writer, res *demo.Result) error {
	p := res.Patients[0]
	return envLines(w,
		[2]string{"DEMO_PASSWORD", res.Password},
		[2]string{"ADMIN_EMAIL", res.Admin.Email},
		[2]string{"STAFF_ADMIN_EMAIL", res.StaffAdmin.Email},
		[2]string{"CLINICIAN_EMAIL", firstClinician(res).Email},
		[2]string{"PATIENT_ID", fmt.Sprint(p.ID)},
		[2]string{"PATIENT_EMAIL", p.Email},
		[2]string{"CLINIC_ID", fmt.Sprint(p.OrganizationID)},
		[2]string{"APP_CLIENT_ID", res.PatientApp.ClientID},
		[2]string{"APP_REDIRECT_URI", res.PatientApp.RedirectURIs[0]},
		[2]string{"CLIENT_ID", res.Backend.ClientID},
		[2]string{"CLIENT_SECRET", res.Backend.ClientSecret},
	)
}

// printDemoText is the guide for people: what was made and how to use each
// piece, with URLs under base (the issuer serve would use with the same
// settings).
func printDemoText(w io.Writer, res *demo.Result, base string) error {
	var b strings.Builder
	pf := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c := res.Counts
	pf("Filled this empty instance with demo data. Every name, email and number in it is invented.\n\n")

	pf("Organizations (id, name):\n")
	depth := map[int64]int{}
	for _, o := range res.Organizations {
		if o.PartOf != 0 {
			depth[o.ID] = depth[o.PartOf] + 1
		}
		pf("  %-4d %s%s\n", o.ID, strings.Repeat("  ", depth[o.ID]), o.Name)
	}

	pf("\nAccounts. Each signs in with the password %s (shown once: ward keeps only a hash).\n", res.Password)
	for _, s := range res.Staff {
		pf("  %-4d %-32s %-18s %s\n", s.ID, s.Email, s.Name, strings.Join(s.Roles, ", "))
	}
	pf("\n%d patients, each consenting to their clinic, with %d observations and %d procedures in all:\n",
		c.Patients, c.Observations, c.Procedures)
	for _, p := range res.Patients {
		pf("  %-4d %-36s %-16s born %s, %s\n", p.ID, p.Email, p.Name, p.BirthDate, p.MRN)
	}

	pf("\nSign in as the administrator: %s/login with %s\n", base, res.Admin.Email)

	app := res.PatientApp
	pf("\nSMART patient app %q (public client: authorization code with PKCE S256, no secret)\n", app.Name)
	pf("  client_id     %s\n  redirect_uri  %s\n  scope         %s\n", app.ClientID, app.RedirectURIs[0], app.Scope)
	pf("  authorize at  %s/oauth/authorize (aud=%s/fhir), sign in as a patient above\n", base, base)

	be := res.Backend
	pf("\nBackend services client %q (confidential: client_credentials, client_secret_basic)\n", be.Name)
	pf("  client_id      %s\n  client_secret  %s   (shown once)\n  scope          %s\n", be.ClientID, be.ClientSecret, be.Scope)

	pf("\nTry it while ward serve runs (jq reads the JSON):\n")
	pf("  ACCESS_TOKEN=$(curl -s -u %s --data-urlencode grant_type=client_credentials \\\n", shellQuote(be.ClientID+":"+be.ClientSecret))
	pf("    --data-urlencode %s %s/oauth/token | jq -r .access_token)\n", shellQuote("scope="+be.Scope), base)
	pf("  curl -s -H \"Authorization: Bearer $ACCESS_TOKEN\" %s\n", shellQuote(base+"/fhir/Patient?birthdate=ge1980"))
	pf("  curl -s -H \"Authorization: Bearer $ACCESS_TOKEN\" %s\n",
		shellQuote(fmt.Sprintf("%s/fhir/Observation?patient=%d&code=http://loinc.org|8480-6", base, res.Patients[0].ID)))
	pf("  curl -si -H \"Authorization: Bearer $ACCESS_TOKEN\" -H 'Prefer: respond-async' -H 'Accept: application/fhir+json' \\\n")
	pf("    %s   # 202; poll its Content-Location\n", shellQuote(base+"/fhir/$export?_type=Patient,Observation,Procedure"))

	pf("\nFor scripts: ward demo --json, or eval \"$(ward demo --format env)\" (each on an empty instance).\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
