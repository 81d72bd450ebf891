package argv

import (
	"reflect"
	"testing"
)

func TestQuoteBourne(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"raw", "/a.txt=/src/a.txt", "/a.txt=/src/a.txt"},
		{"empty written as quotes", "", "''"},
		{"space", "a b", "'a b'"},
		{"apostrophe", "it's", `'it'"'"'s'`},
		{"backslash", `C:\x`, `'C:\x'`},
		{"control byte", "a\vb", "'a\vb'"},
		{"tab", "a\tb", "'a\tb'"},
		{"no quoting for # = { } % , : @ ^ ] DEL non-ASCII", "#={}%,:@^]\x7fé", "#={}%,:@^]\x7fé"},
		{"tilde", "~x", "'~x'"},
		{"bang", "a!", "'a!'"},
		{"bracket", "[a", "'[a'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := QuoteBourne(tc.in); got != tc.want {
				t.Fatalf("QuoteBourne(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	for _, c := range "!\"$&()*;<>?[\\'`|~ " {
		if got := QuoteBourne(string(c)); got == string(c) {
			t.Errorf("QuoteBourne(%q) left the special character raw", string(c))
		}
	}
}

func TestQuoteMSCRT(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"raw", `C:\dir\`, `C:\dir\`},
		{"empty written as quotes", "", `""`},
		{"space", "a b", `"a b"`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslashes before quote doubled", `a\\"b`, `"a\\\\\"b"`},
		{"trailing backslashes doubled when quoted", `a b\\`, `"a b\\\\"`},
		{"inner backslashes kept", `a b\c`, `"a b\c"`},
		{"percent", "%PATH%", `"%PATH%"`},
		{"apostrophe raw", "it's", "it's"},
		{"control byte", "a\x01", "\"a\x01\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := QuoteMSCRT(tc.in); got != tc.want {
				t.Fatalf("QuoteMSCRT(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// roundTripArgs are awkward arguments every generator must reproduce exactly.
var roundTripArgs = []string{
	"", " ", "'", `"`, `\`, `\\`, `\"`, `"\`, `a\`, `a\\`, "a\nb", "\r\n", "\v\f",
	"it's", `say "hi"`, `C:\dir\`, `"C:\dir\\"`, "$HOME", "`x`", "#", "é€\U0001F600",
	"\x01\x02\x1f\x7f", "a\x00b", "\xff\xfe", "''", `""`, `\'`, `'"'"'`, "a b c",
}

func TestJoinRoundTrip(t *testing.T) {
	for _, q := range []Quoting{Bourne, MSCRT} {
		t.Run(q.String(), func(t *testing.T) {
			// Each argument alone, and all of them together.
			for _, a := range roundTripArgs {
				checkRoundTrip(t, q, []string{a})
			}
			checkRoundTrip(t, q, roundTripArgs)
		})
	}
}

func checkRoundTrip(t *testing.T, q Quoting, args []string) {
	t.Helper()
	joined := Join(args, q)
	split := Split(joined, q)
	got := make([]string, len(split))
	for i, a := range split {
		got[i] = a.Text
	}
	if !reflect.DeepEqual(got, args) && !(len(got) == 0 && len(args) == 0) {
		t.Fatalf("%v round trip of %q via %q gave %q", q, args, joined, got)
	}
}

func TestJoinDialects(t *testing.T) {
	args := []string{"a b", "c"}
	if got, want := JoinBourne(args), "'a b' c"; got != want {
		t.Errorf("JoinBourne = %q, want %q", got, want)
	}
	if got, want := JoinMSCRT(args), `"a b" c`; got != want {
		t.Errorf("JoinMSCRT = %q, want %q", got, want)
	}
	if got := Join(nil, Bourne); got != "" {
		t.Errorf("Join(nil) = %q, want empty", got)
	}
}
