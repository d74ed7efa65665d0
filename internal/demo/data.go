package demo

import "ward/internal/clinical"

// Every name, address, phone number and identifier below is invented. The
// phone numbers are in 555-0100..0199, which the North American numbering
// plan keeps for fiction; the email domain is under example.org, which
// RFC 2606 reserves for examples.

// Domain is the email domain of every demo account.
const Domain = "demo.example.org"

// IdentifierSystem is the system of the demo patients' medical record
// numbers; the values are DEMO-0001 and so on.
const IdentifierSystem = "https://demo.example.org/fhir/sid/mrn"

// Code systems the data uses.
const (
	orgTypeSystem  = "http://terminology.hl7.org/CodeSystem/organization-type"
	loincSystem    = "http://loinc.org"
	ucumSystem     = "http://unitsofmeasure.org"
	categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
)

// orgSpec is one organization of the tree; parent indexes orgs (-1 for the
// root).
type orgSpec struct {
	name, alias, typeCode, typeDisplay, city string
	parent                                   int
}

// The tree: a ministry, a region under it, two clinics under the region.
const (
	orgMinistry = iota
	orgRegion
	orgRiverside
	orgHillview
)

var orgs = []orgSpec{
	{"Demo Health Ministry", "demo-ministry", "govt", "Government", "Demoville", -1},
	{"Demo North Region", "demo-north", "govt", "Government", "Northtown", orgMinistry},
	{"Demo Riverside Clinic", "demo-riverside", "prov", "Healthcare Provider", "Riverside", orgRegion},
	{"Demo Hillview Clinic", "demo-hillview", "prov", "Healthcare Provider", "Hillview", orgRegion},
}

// staffSpec is one member of staff; org indexes orgs (-1 for none).
type staffSpec struct {
	key, local, given, family, gender string
	roles                             []string
	org                               int
}

// Keys of the staff members the command line names.
const (
	KeyAdmin      = "admin"
	KeyStaffAdmin = "staff_admin"
)

var staff = []staffSpec{
	{KeyAdmin, "admin", "Alex", "Demo-Admin", "other", []string{"admin"}, -1},
	{KeyStaffAdmin, "staff.admin", "Morgan", "Demo-Lead", "female", []string{"staff_admin"}, orgRegion},
	{"riverside_clinician", "dr.hughes", "Helen", "Hughes", "female", []string{"clinician"}, orgRiverside},
	{"riverside_staff", "front.desk", "Nadia", "Petrova", "female", []string{"staff"}, orgRiverside},
	{"hillview_clinician", "dr.osei", "Kwame", "Osei", "male", []string{"clinician"}, orgHillview},
}

// clinicianOf names, for each clinic, the staff member (by key) who records
// its patients' consents, observations and procedures.
var clinicianOf = map[int]string{orgRiverside: "riverside_clinician", orgHillview: "hillview_clinician"}

// patientSpec is one patient; clinic indexes orgs.
type patientSpec struct {
	given, family, gender, birthDate, locale, timezone string
	clinic                                             int
	// smoking is a SNOMED CT smoking status finding.
	smoking coding
	// heightCM and weightKG are the first visit's measures; the second
	// visit's weight is weightKG+weightDelta.
	heightCM, weightKG, weightDelta float64
	systolic, diastolic, heartRate  int
	// hba1c is a percentage, 0 for a patient never tested.
	hba1c float64
	// procedures are SNOMED CT procedures done, days before today.
	procedures []procSpec
}

type coding struct{ code, display string }

type procSpec struct {
	code    coding
	daysAgo int
	// hours > 0 makes the procedure a period of that many hours.
	hours int
}

var (
	neverSmoked = coding{"266919005", "Never smoked tobacco"}
	exSmoker    = coding{"8517006", "Ex-smoker"}
	smoker      = coding{"77176002", "Smoker"}

	colonoscopy  = coding{"73761001", "Colonoscopy"}
	appendectomy = coding{"80146002", "Appendectomy"}
	mammography  = coding{"71651007", "Mammography"}
	ecg          = coding{"29303009", "Electrocardiographic procedure"}
	chestXRay    = coding{"399208008", "Plain chest X-ray"}
	vaccination  = coding{"33879002", "Administration of vaccine to produce active immunity"}
)

var patients = []patientSpec{
	{"Amara", "Okafor", "female", "1984-03-12", "en-GB", "Europe/London", orgRiverside, neverSmoked,
		168, 64.2, -0.8, 118, 76, 68, 5.4, []procSpec{{vaccination, 200, 0}, {mammography, 90, 0}}},
	{"Jonas", "Lindqvist", "male", "1957-11-02", "sv-SE", "Europe/Stockholm", orgRiverside, exSmoker,
		181, 88.5, 1.6, 142, 88, 74, 7.1, []procSpec{{colonoscopy, 150, 0}, {ecg, 40, 0}}},
	{"Mei", "Tanaka", "female", "1992-07-25", "ja-JP", "Asia/Tokyo", orgRiverside, neverSmoked,
		159, 52.7, 0.4, 108, 70, 72, 0, []procSpec{{vaccination, 120, 0}}},
	{"Rafael", "Moreno", "male", "1968-01-30", "es-ES", "Europe/Madrid", orgRiverside, smoker,
		174, 91.3, -2.1, 151, 95, 81, 6.2, []procSpec{{chestXRay, 75, 0}, {ecg, 74, 0}}},
	{"Priya", "Raman", "female", "1979-09-14", "en-IN", "Asia/Kolkata", orgRiverside, neverSmoked,
		163, 70.0, -1.5, 122, 79, 66, 5.7, []procSpec{{mammography, 60, 0}}},
	{"Tomasz", "Nowak", "male", "2001-05-08", "pl-PL", "Europe/Warsaw", orgRiverside, smoker,
		186, 79.4, 0.9, 126, 80, 77, 0, []procSpec{{appendectomy, 230, 2}}},
	{"Grace", "Mensah", "female", "1949-12-19", "en-GH", "Africa/Accra", orgHillview, exSmoker,
		157, 61.8, -0.6, 148, 84, 70, 6.8, []procSpec{{ecg, 180, 0}, {vaccination, 35, 0}}},
	{"Liam", "Byrne", "male", "1988-04-03", "en-IE", "Europe/Dublin", orgHillview, neverSmoked,
		178, 82.0, 0.3, 120, 78, 62, 0, []procSpec{{chestXRay, 100, 0}}},
	{"Sofia", "Rossi", "female", "1995-02-03", "it-IT", "Europe/Rome", orgHillview, neverSmoked,
		166, 58.9, 1.1, 112, 72, 75, 5.1, []procSpec{{appendectomy, 300, 3}}},
	{"Daniel", "Kim", "male", "1973-06-21", "ko-KR", "Asia/Seoul", orgHillview, exSmoker,
		172, 84.6, -3.0, 136, 86, 69, 6.4, []procSpec{{colonoscopy, 45, 0}}},
}

// vital is one LOINC-coded vital sign.
type vital struct {
	code, display, unit, ucum string
}

var (
	bodyHeight = vital{"8302-2", "Body height", "cm", "cm"}
	bodyWeight = vital{"29463-7", "Body weight", "kg", "kg"}
	bmi        = vital{"39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2"}
	systolic   = vital{"8480-6", "Systolic blood pressure", "mmHg", "mm[Hg]"}
	diastolic  = vital{"8462-4", "Diastolic blood pressure", "mmHg", "mm[Hg]"}
	heartRate  = vital{"8867-4", "Heart rate", "beats/minute", "/min"}
	hba1c      = vital{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%"}
)

// smokingStatus is LOINC's tobacco smoking status.
var smokingStatus = coding{"72166-2", "Tobacco smoking status"}

func category(code, display string) []clinical.Coding {
	return []clinical.Coding{{System: categorySystem, Code: code, Display: display}}
}
