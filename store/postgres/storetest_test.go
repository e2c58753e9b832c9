package postgres_test

import (
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/storetest"
)

// suiteDB opens one database for a whole suite and empties it before each
// subtest: creating a database per subtest would cost far more than the
// subtests themselves.
func suiteDB(t *testing.T) func(t *testing.T) *postgres.Store {
	db := open(t, pgtest.NewDatabase(t))
	return func(t *testing.T) *postgres.Store {
		t.Helper()
		// DELETE rather than TRUNCATE: on near-empty tables it is much
		// cheaper than TRUNCATE's exclusive locks and file swaps.
		if _, err := db.Pool().Exec(t.Context(), `DELETE FROM clients; DELETE FROM authorizations;
			DELETE FROM grants; DELETE FROM signing_keys; DELETE FROM authz_sessions;
			DELETE FROM subject_sessions; DELETE FROM codes; DELETE FROM pushed_requests;
			DELETE FROM replay_cache; DELETE FROM revocations`); err != nil {
			t.Fatalf("truncate: %v", err)
		}
		return db
	}
}

func TestDurableContract(t *testing.T) {
	db := suiteDB(t)
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return db(t).Durable() })
}

func TestEphemeralContract(t *testing.T) {
	db := suiteDB(t)
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return db(t).Ephemeral() })
}
