package shadow

import "testing"

func TestInShadowChain(t *testing.T) {
	for state, want := range map[string]bool{
		"":                           false,
		"cutover=shadow":             true,
		"vendor=x, cutover=shadow":   true,
		"vendor=x,\tcutover=shadow ": true,
		"mycutover=shadow":           false,
		"cutover=shadowed,a=b":       false,
		"cutover=live":               false,
	} {
		if got := inShadowChain([]byte(state)); got != want {
			t.Errorf("inShadowChain(%q) = %v, want %v", state, got, want)
		}
	}
}
