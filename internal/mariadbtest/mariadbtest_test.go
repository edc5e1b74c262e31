package mariadbtest

import (
	"database/sql"
	"testing"
	"time"
)

// TestStartStop: the server answers SQL over TCP with a user it was given,
// and Stop ends the process.
func TestStartStop(t *testing.T) {
	s := Start(t)
	s.Exec("CREATE USER 'u'@'127.0.0.1' IDENTIFIED BY 'p'", "CREATE DATABASE d", "GRANT SELECT ON d.* TO 'u'@'127.0.0.1'")
	db, err := sql.Open("mysql", "u:p@tcp("+s.Addr()+")/d?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 over TCP: %d %v", one, err)
	}
	exited := s.exited
	s.Stop()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("mariadbd still running after Stop")
	}
}
