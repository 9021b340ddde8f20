package batch

import (
	"testing"
)

func TestNormalizeICCID(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"89882990000000001013", "89882990000000001013"},
		{"  89882990000000001013\t", "89882990000000001013"},
		{"'89882990000000001013", "89882990000000001013"},
		{"\u201989882990000000001013", "89882990000000001013"},
		{`"89882990000000001013"`, "89882990000000001013"},
		{`="89882990000000001013"`, "89882990000000001013"},
		{`="89882990000000001013`, "89882990000000001013"},
		{`=89882990000000001013`, "89882990000000001013"},
		{` = " '89882990000000001013' " `, "89882990000000001013"},
		{"\ufeff89882990000000001013", "89882990000000001013"},
		{"\u00a08988 2990 0000 0000 1013\u00a0", "89882990000000001013"},
		{"8988-2990-0000-0000-1013", "89882990000000001013"},
		{"8988\u20132990\u2013000000001013", "89882990000000001013"},
		{"8988 - 2990 - 0000 - 0000 - 1013", "89882990000000001013"},
		{"８９８８２９９０００００００００１０１３", "89882990000000001013"},
		{"8981290000000001026F", "8981290000000001026"},
		{"8981290000000001026f", "8981290000000001026"},
		{"8981290000000001026FFF", "8981290000000001026"},
		{"89882990a0000000583", "89882990A0000000583"},
		{"89882990A000000058F", "89882990A000000058F"}, // hex: an F is content, not filler
		{"8.98811e+18", "8.98811E+18"},                 // kept recognisable as damage
		{"8,98830E+19", "8,98830E+19"},
		{"Total", "TOTAL"},
		{"Exported 2024-05-02 10:15 UTC", "EXPORTED20240502" + "10:15UTC"},
		{"", ""},
		{"   ", ""},
		{`""`, ""},
		{"FFFF", "FFFF"},
		{"8988\x0029", "8988\x0029"}, // inner control characters are not removed
		{"\x9289882990000000001013", "89882990000000001013"},                 // Windows-1252 right quote
		{"\xa08988\xa02990\xa00000\xa00000\xa01013", "89882990000000001013"}, // Windows-1252 NBSP
		{"\xd589882990000000001013", "89882990000000001013"},                 // Mac Roman right quote
		{"M\xfcller", "M\xfcLLER"},
	} {
		if got := NormalizeICCID(tc.raw); got != tc.want {
			t.Errorf("NormalizeICCID(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestValidateICCID(t *testing.T) {
	for _, tc := range []struct{ iccid, want string }{
		{"89882990000000001013", ""},
		{"8981290000000001026", ""},
		{"898829900000000010", ""},     // 18
		{"8988299000000000101300", ""}, // 22
		{"89882990A0000000583", ""},    // hex after the prefix
		{"", "empty ICCID cell"},
		{"89882990000000101", "too short for an ICCID: 17 digits, expected 18 to 22"},
		{"89882990000000001013001", "too long for an ICCID: 23 digits, expected 18 to 22"},
		{"8988299A00001", "too short for an ICCID: 13 characters, expected 18 to 22"},
		{"98882990000000001013", "not an ICCID: an ICCID starts with 89"},
		{"A9882990000000001013", "not an ICCID: expected 18 to 22 digits starting with 89"},
		{"DEADBEEF0000000000000", "not an ICCID: expected 18 to 22 digits starting with 89"},
		{"89882990000000001O13", "not an ICCID: expected 18 to 22 digits starting with 89"}, // letter O
		{"8.98811E+18", "not an ICCID: expected 18 to 22 digits starting with 89"},
		{"89882990000000001013 ", "not an ICCID: expected 18 to 22 digits starting with 89"}, // not normalised
		{"TOTAL", "not an ICCID: expected 18 to 22 digits starting with 89"},
	} {
		got := ""
		if err := ValidateICCID(tc.iccid); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ValidateICCID(%q) = %q, want %q", tc.iccid, got, tc.want)
		}
	}
}

func TestLuhnValid(t *testing.T) {
	for _, tc := range []struct {
		iccid string
		want  bool
	}{
		{"89882990000000001013", true},
		{"89882990000000001014", false},
		{"8981290000000001026", true},
		{"8981290000000001027", false},
		{"79927398713", true}, // the textbook example
		{"79927398710", false},
		{"89882990A0000000583", false}, // hex: no Luhn digit
		{"0", false},
		{"", false},
	} {
		if got := LuhnValid(tc.iccid); got != tc.want {
			t.Errorf("LuhnValid(%q) = %v, want %v", tc.iccid, got, tc.want)
		}
	}
}

func TestKeyOf(t *testing.T) {
	iccids := []string{
		"89882990000000001013",
		"8988299000000000101",   // a prefix of the one above
		"898829900000000010130", // the one above with a 0 added
		"89882990A0000000583",
		"8988299000000000101300",
		"898829900000000010",
	}
	seen := map[ICCIDKey]string{}
	for _, s := range iccids {
		k := KeyOf(s)
		if other, ok := seen[k]; ok {
			t.Errorf("KeyOf(%q) == KeyOf(%q)", s, other)
		}
		seen[k] = s
		if got := k.String(); got != s {
			t.Errorf("KeyOf(%q).String() = %q", s, got)
		}
	}
}

func TestDamageKind(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"8.98811E+18", "scientific"},
		{"8,98830E+19", "scientific"},
		{"8.98829900000000E+19", "scientific"},
		{"9E19", "scientific"},
		{"89882990000000001013.0", "decimal"},
		{"89,882,990,000,000,000,000", "grouped"},
		{"89.882.990.000.000.000.000", "grouped"},
		{"8,988,299,000,000,000,000", "grouped"},
		{"89,882.990,000,000,000,000", ""},
		{"12,500", ""},
		{"1,234,567", ""},
		{"89,882,990,000,000,000,00", ""},
		{",882,990,000,000,000,000", ""},
		{"89882990000000001013", ""},
		{"12,5", ""},
		{"E+19", ""},
		{"8.9E+", ""},
		{"TOTAL", ""},
		{"", ""},
	} {
		if got := damageKind(tc.v); got != tc.want {
			t.Errorf("damageKind(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
