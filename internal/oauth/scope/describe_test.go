package scope

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"patient/Observation.rs", "Read and search your Observation records"},
		{"patient/Observation.read", "Read and search your Observation records"},
		{"patient/Observation.write", "Create, update and delete your Observation records"},
		{"patient/*.cruds", "Create, read, update, delete and search all your records"},
		{"user/Encounter.r", "Read Encounter records you can access"},
		{"user/*.rs", "Read and search all records you can access"},
		{"system/Patient.s", "Search all Patient records"},
		{"system/*.rs", "Read and search all records"},
		{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			"Read and search your Observation records (only where category is laboratory)"},
		{"patient/Observation.s?status=final&category=vital-signs",
			"Search your Observation records (only where category is vital-signs and status is final)"},
		{"system/*.$export", "Export all records in bulk"},
		{"system/Patient.$export", "Export the data of all patients in bulk"},
		{"system/Group.$export", "Export the data of patient groups in bulk"},
		{"system/*.$bulkdata-status", "Check on bulk data exports and download their files"},
		{"system/Patient.$everything", "Run the $everything operation on all Patient records"},
		{"openid", "Know who you are (OpenID Connect)"},
		{"fhirUser", "Know which record in the system is you (fhirUser)"},
		{"profile", "See your name and basic profile"},
		{"launch", "Use the context it was opened from, such as the current patient"},
		{"launch/patient", "Access the patient chosen at launch"},
		{"launch/encounter", "Access the encounter chosen at launch"},
		{"offline_access", "Stay signed in when you are away (offline access)"},
		{"online_access", "Stay signed in while you are using it (online access)"},
		{"record.register", `Use the "record.register" permission`},
	}
	for _, tc := range tests {
		if got := Describe(mustParse(t, tc.in)); got != tc.want {
			t.Errorf("Describe(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
