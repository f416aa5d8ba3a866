package redistest

import "testing"

func TestStartStopStart(t *testing.T) {
	s := Start(t)
	if err := s.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Start()
	if err := s.Do("PING"); err != nil {
		t.Fatal(err)
	}
}
