// Package directory is the people directory: users with their demographics,
// roles, organizations (and the OrgTree over them), relationships,
// identifiers, groups, typed profiles with catchments, consents and
// terms-of-use agreements, and check_role, the one place that decides who may
// view or edit whom. It knows no HTTP and no SQL: storage is the Store
// interface declared here and implemented in internal/sqlstore.
package directory
