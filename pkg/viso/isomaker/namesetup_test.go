package isomaker

import (
	"encoding/json"
	"testing"
)

func TestNameSetup(t *testing.T) {
	tests := []struct {
		value string
		want  string // JSON of the positions
	}{
		{"iso", `[{"namespaces":["primary"]}]`},
		{"iso,joliet", `[{"namespaces":["primary"]},{"namespaces":["joliet"]}]`},
		{"primary+joliet", `[{"namespaces":["primary","joliet"]}]`},
		{"iso9660|joliet", `[{"namespaces":["primary","joliet"]}]`},
		{"'iso-9660 joliet'", `[{"namespaces":["primary","joliet"]}]`},
		{"primary-iso,iso-primary+joliet", ""}, // primary twice across positions
		{"iso+iso", `[{"namespaces":["primary"]}]`},
		{"iso+rr,joliet+joliet-rock-ridge+trans", `[{"namespaces":["primary"],"minor":["primary-rock-ridge"]},{"namespaces":["joliet"],"minor":["joliet-rock-ridge","joliet-trans-tbl"]}]`},
		{"iso+rock-ridge+iso-trans-tbl+primary-iso-rock", `[{"namespaces":["primary"],"minor":["primary-rock-ridge","primary-trans-tbl"]}]`},
		{"iso+joliet+rr", `[{"namespaces":["primary","joliet"],"minor":["joliet-rock-ridge"]}]`},
		{"iso9660-rr+iso", ""},
		{"iso,joliet,iso-rock", ""},
		{"iso,joliet+primaryiso-trans", ""},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			text := "--name-setup " + tc.value
			if tc.want == "" {
				wantError(t, text+" x", nil, ErrNameSetup)
				return
			}
			ops := optionOps(t, text)
			want := `{"op":"name-setup","positions":` + tc.want + `}`
			if len(ops) != 1 || ops[0] != want {
				t.Errorf("ops %q, want %s", ops, want)
			}
		})
	}
}

func TestNameSetupErrors(t *testing.T) {
	tests := []struct {
		value    string
		fragment string
	}{
		{"iso,udf", "UDF support is currently not implemented"},
		{"hfs", "Hybrid HFS+ support is currently not implemented"},
		{"hfsplus", "Hybrid HFS+ support is currently not implemented"},
		{"iso,bogus", "unknown name specifier 'bogus'"},
		{"ISO", "unknown name specifier 'ISO'"},
		{"iso,,joliet", "name specifier #1 (0-based) is empty"},
		{"''", "name specifier #0 (0-based) is empty"},
		{"iso,+", "name specifier #1 (0-based) is empty"},
		{"iso,iso", "repeating name specifier: iso-9660"},
		{"joliet,iso+joliet", "repeating name specifier: joliet"},
		{"rr+iso", "unqualified rock-ridge name specifier"},
		{"trans-tbl", "unqualified trans-tbl name specifier"},
		{"iso-9660-rock-ridge+iso", "iso-9660-rock-ridge must come after the iso-9660 name specifier"},
		{"iso+joliet-trans", "joliet-trans must come after the joliet name specifier"},
		{"iso+udf-trans-tbl", "udf-trans-tbl must come after the udf name specifier"},
		{"a,b,c,d,e,f,g,h,i", "too many name specifiers (max 8)"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			ae := wantError(t, "x\n--name-setup\n"+tc.value, nil, ErrNameSetup, tc.fragment)
			if ae.Line != 3 {
				t.Errorf("blamed line %d, want the value's line 3", ae.Line)
			}
		})
	}
}

func TestNameSetupEightPositions(t *testing.T) {
	// Only two majors exist, so eight valid positions cannot be written; check
	// that the count limit sits between eight and nine by the error chosen.
	if _, err := parseNameSetup("iso,joliet"); err != nil {
		t.Fatal(err)
	}
	if _, err := parseNameSetup("iso,joliet,x,x,x,x,x,x"); err == nil || !contains(err.Error(), "unknown name specifier 'x'") {
		t.Fatalf("eight positions with unknown words: %v", err)
	}
	if _, err := parseNameSetup("iso,joliet,x,x,x,x,x,x,x"); err == nil || !contains(err.Error(), "too many name specifiers") {
		t.Fatalf("nine positions: %v", err)
	}
}

func TestNameSetupChangesFileSpecPositions(t *testing.T) {
	plan, err := parseText(`--name-setup iso,joliet
'/README.TXT=/Read Me First.txt=/host/readme.txt'
=/only-in-joliet.txt=/host/a.txt
/ONLYISO.TXT==/host/b.txt
/both.txt=/host/c.txt
c.txt
/gone.txt=:remove:`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"op":"name-setup","positions":[{"namespaces":["primary"]},{"namespaces":["joliet"]}]}`,
		`{"op":"add","names":["/README.TXT","/Read Me First.txt"],"source":"/host/readme.txt"}`,
		`{"op":"add","names":["","/only-in-joliet.txt"],"source":"/host/a.txt"}`,
		`{"op":"add","names":["/ONLYISO.TXT",""],"source":"/host/b.txt"}`,
		`{"op":"add","names":["/both.txt","/both.txt"],"source":"/host/c.txt"}`,
		`{"op":"add","names":["/c.txt","/c.txt"],"source":"c.txt"}`,
		`{"op":"remove","names":["/gone.txt","/gone.txt"]}`,
	}
	if got := briefAll(t, plan.Operations); !equalStrings(got, want) {
		t.Errorf("ops:\n got %q\nwant %q", got, want)
	}
	wantError(t, "--name-setup iso,joliet /a=/b=/c=src", nil, ErrFileSpec, "too many names specified (max 2 + source): /a=/b=/c=src")
}

func TestNameSetupFromImport(t *testing.T) {
	plan, err := parseText("--import-iso os2.iso --name-setup iso,joliet --name-setup-from-import /a=/b=c", nil)
	if err == nil {
		t.Fatalf("after --name-setup-from-import one position remains, got %+v", plan)
	}
	plan, err = parseText("--import-iso os2.iso --name-setup-from-import /a=b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := brief(t, plan.Operations[1]); got != `{"op":"name-setup-from-import"}` {
		t.Errorf("op %s", got)
	}
	wantError(t, "--name-setup-from-import /a=b", nil, ErrNameSetupEmpty, "--name-setup-from-import used on an empty ISO")
}

func TestNamePositionJSONRoundTrip(t *testing.T) {
	pos, err := parseNameSetup("iso+rr,joliet")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pos)
	var back []NamePosition
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].Namespaces[0] != NSPrimary || back[0].Minor[0] != "primary-rock-ridge" || back[1].Namespaces[0] != NSJoliet {
		t.Errorf("round trip %+v", back)
	}
}
