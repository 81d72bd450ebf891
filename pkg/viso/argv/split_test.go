package argv

import (
	"reflect"
	"testing"
)

type splitCase struct {
	name string
	in   string
	want []Arg
}

// l1 builds the expected result for inputs whose arguments all start on line 1.
func l1(texts ...string) []Arg {
	args := make([]Arg, len(texts))
	for i, t := range texts {
		args[i] = Arg{Text: t, Line: 1}
	}
	return args
}

// bourneCases holds every example of spec §1.8 plus the quirks the brief names.
var bourneCases = []splitCase{
	// Spec §1.8 table.
	{"plain", `/a.txt=/src/a.txt`, l1(`/a.txt=/src/a.txt`)},
	{"single quotes with spaces", `'/My File.txt=/home/u/My File.txt'`, l1(`/My File.txt=/home/u/My File.txt`)},
	{"escaped space", `/My\ File.txt=src.txt`, l1(`/My File.txt=src.txt`)},
	{"quote inside word", `"/a b"=x`, l1(`/a b=x`)},
	{"apostrophe idiom", `'it'"'"'s'`, l1(`it's`)},
	{"escaped double quotes", `"say \"hi\""`, l1(`say "hi"`)},
	{"double-quote backslash quirk", `"C:\Temp\x"`, l1(`C:"Temp"x`)},
	{"single-quoted backslashes", `'C:\Temp\x'`, l1(`C:\Temp\x`)},
	{"unquoted backslashes escape", `C:\Temp\x`, l1(`C:Tempx`)},
	{"backslash newline inserts LF", "a\\\nb", l1("a\nb")},
	{"empty value", `--volume-id=''`, l1(`--volume-id=`)},
	{"unterminated single quote", `'unterminated`, l1(`unterminated`)},
	// Further quirks.
	{"quote mid word", `/a=b'c d'e`, l1(`/a=bc de`)},
	{"brief quirk C:\\dir", `"C:\dir"`, l1(`C:"dir`)},
	{"trailing lone backslash dropped", `abc\`, l1(`abc`)},
	{"lone backslash after separator is an empty argument", `a \`, l1(`a`, ``)},
	{"unterminated double quote", `"abc def`, l1(`abc def`)},
	{"unterminated double quote after backslash", `"abc\`, l1(`abc`)},
	{"empty single quotes alone", `''`, l1(``)},
	{"empty double quotes alone", `""`, l1(``)},
	{"empty quotes between args", `a '' b "" c`, l1(`a`, ``, `b`, ``, `c`)},
	{"separators are exactly space tab lf cr", "a b\tc\rd\ne", []Arg{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 2}}},
	{"vertical tab and form feed are not separators", "a\vb\fc", l1("a\vb\fc")},
	{"runs of separators", " \t\r\n a  \t b \r\n", []Arg{{"a", 2}, {"b", 2}}},
	{"empty input", ``, nil},
	{"only separators", " \t\r\n", nil},
	{"backslash escapes quote", `a\'b\"c`, l1(`a'b"c`)},
	{"backslash escapes backslash", `a\\b`, l1(`a\b`)},
	{"backslash escapes separator tab", "a\\\tb", l1("a\tb")},
	{"single quotes keep backslash and double quote", `'a\"b'`, l1(`a\"b`)},
	{"double quotes keep dollar and backtick", "\"$HOME `x`\"", l1("$HOME `x`")},
	{"double quote escapes backslash", `"a\\b"`, l1(`a\b`)},
	{"double quote escapes dollar and backtick", "\"\\$\\`\"", l1("$`")},
	{"double quote escapes LF", "\"a\\\nb\"", l1("a\nb")},
	{"double quote backslash CR quirk", "\"a\\\rb\"", l1("a\"\rb")},
	{"double quote backslash single quote quirk", `"a\'b"`, l1(`a"'b`)},
	{"hash is ordinary", `#comment here`, l1(`#comment`, `here`)},
	{"escaped multibyte code point", "\\é\\€", l1("é€")},
	{"double quote quirk with multibyte", "\"\\é\"", l1("\"é")},
	{"BOM later in file is ordinary", "a \uFEFFb", l1("a", "\uFEFFb")},
	{"invalid byte kept verbatim", "a\xffb '\xfe'", l1("a\xffb", "\xfe")},
	{"NUL is ordinary to the splitter", "a\x00b", l1("a\x00b")},
	// Line numbers.
	{"lines across LF", "a\nb\n\nc", []Arg{{"a", 1}, {"b", 2}, {"c", 4}}},
	{"lines across CRLF", "a\r\nb\r\n\r\nc", []Arg{{"a", 1}, {"b", 2}, {"c", 4}}},
	{"lone CR is not a line break", "a\rb", l1("a", "b")},
	{"backslash newline inside argument", "x a\\\nb c", []Arg{{"x", 1}, {"a\nb", 1}, {"c", 2}}},
	{"quoted multi-line argument", "x 'a\nb\nc' d", []Arg{{"x", 1}, {"a\nb\nc", 1}, {"d", 3}}},
	{"double quoted multi-line argument", "x \"a\r\nb\" d\ne", []Arg{{"x", 1}, {"a\r\nb", 1}, {"d", 2}, {"e", 3}}},
	{"argument starting on later line of a quote", "\n\n'a\nb'", []Arg{{"a\nb", 3}}},
}

// msCases holds every example of spec §1.9 plus further rules.
var msCases = []splitCase{
	// Spec §1.9 table.
	{"quoted path with spaces", `"/My File.txt=C:\Users\u\My File.txt"`, l1(`/My File.txt=C:\Users\u\My File.txt`)},
	{"trailing backslash literal", `C:\dir\`, l1(`C:\dir\`)},
	{"doubled backslash before closing quote", `"C:\dir\\"`, l1(`C:\dir\`)},
	{"classic trap keeps quote open", `"C:\dir\" next`, l1(`C:\dir" next`)},
	{"escaped quote unquoted", `a\"b`, l1(`a"b`)},
	{"doubled quote inside quotes", `"a""b"`, l1(`a"b`)},
	{"apostrophe is ordinary", `it's`, l1(`it's`)},
	// Further rules.
	{"classic trap alone", `"C:\dir\"`, l1(`C:\dir"`)},
	{"three backslashes before quote", `a\\\"b`, l1(`a\"b`)},
	{"four backslashes before quote toggles", `"a\\\\" b`, l1(`a\\`, `b`)},
	{"backslashes not before quote literal", `a\\b\\\c`, l1(`a\\b\\\c`)},
	{"doubled quote stays in quotes", `"a""b c"`, l1(`a"b c`)},
	{"doubled quote outside quotes", `a""b`, l1(`ab`)},
	{"empty quotes alone", `""`, l1(``)},
	{"empty quotes between args", `a "" b`, l1(`a`, ``, `b`)},
	{"unterminated quote", `"abc def`, l1(`abc def`)},
	{"single quotes have no meaning", `'a b'`, l1(`'a`, `b'`)},
	{"caret and percent literal", `^%PATH%`, l1(`^%PATH%`)},
	{"separators are exactly space tab lf cr", "a b\tc\rd\ne", []Arg{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 2}}},
	{"vertical tab and form feed are not separators", "a\vb\fc", l1("a\vb\fc")},
	{"empty input", ``, nil},
	{"quote inside word", `/a="b c"d`, l1(`/a=b cd`)},
	{"invalid byte kept verbatim", "a\xffb", l1("a\xffb")},
	// Line numbers.
	{"lines across CRLF", "a\r\nb\r\n\r\nc", []Arg{{"a", 1}, {"b", 2}, {"c", 4}}},
	{"quoted multi-line argument", "x \"a\nb\nc\" d", []Arg{{"x", 1}, {"a\nb\nc", 1}, {"d", 3}}},
}

func runSplitCases(t *testing.T, cases []splitCase, split func(string) []Arg, q Quoting) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := split(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("split(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
			if viaSplit := Split(tc.in, q); !reflect.DeepEqual(viaSplit, got) {
				t.Fatalf("Split(%q, %v) = %#v, differs from dialect function %#v", tc.in, q, viaSplit, got)
			}
		})
	}
}

func TestSplitBourne(t *testing.T) { runSplitCases(t, bourneCases, SplitBourne, Bourne) }

func TestSplitMSCRT(t *testing.T) { runSplitCases(t, msCases, SplitMSCRT, MSCRT) }

func TestSplitUnknownQuotingIsBourne(t *testing.T) {
	got := Split(`'a b'`, Quoting(42))
	if want := l1("a b"); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestQuotingString(t *testing.T) {
	if Bourne.String() != "bourne-sh" || MSCRT.String() != "ms-crt" {
		t.Fatalf("got %q, %q", Bourne.String(), MSCRT.String())
	}
}
