package users

import "fmt"

// Demo returns the directory of `keyward serve --demo`: alice
// (password "alice-password") and bob ("bob-password") with the standard
// claims of OIDC Core §5.1, including a language-tagged name for alice.
// Each password is hashed once, so the call costs two argon2id hashes.
func Demo() (*Directory, error) {
	alicePW, err := HashPassword("alice-password")
	if err != nil {
		return nil, fmt.Errorf("demo users: %w", err)
	}
	bobPW, err := HashPassword("bob-password")
	if err != nil {
		return nil, fmt.Errorf("demo users: %w", err)
	}
	return New([]User{
		{
			Sub:      "alice",
			Username: "alice",
			Password: alicePW,
			Claims: map[string]any{
				"name":                  "Alice Adams",
				"name#de":               "Alice Adams",
				"given_name":            "Alice",
				"family_name":           "Adams",
				"nickname":              "Ali",
				"preferred_username":    "alice",
				"profile":               "https://example.com/~alice",
				"picture":               "https://example.com/~alice/photo.jpg",
				"website":               "https://alice.example.com",
				"gender":                "female",
				"birthdate":             "1990-04-01",
				"zoneinfo":              "Europe/London",
				"locale":                "en-GB",
				"email":                 "alice@example.com",
				"email_verified":        true,
				"phone_number":          "+44 20 7946 0018",
				"phone_number_verified": false,
				"address": map[string]any{
					"formatted":      "1 Example Street\nLondon SW1A 1AA\nUnited Kingdom",
					"street_address": "1 Example Street",
					"locality":       "London",
					"postal_code":    "SW1A 1AA",
					"country":        "GB",
				},
				"updated_at": 1735689600,
			},
		},
		{
			Sub:      "bob",
			Username: "bob",
			Password: bobPW,
			Claims: map[string]any{
				"name":                  "Bob Brown",
				"given_name":            "Bob",
				"family_name":           "Brown",
				"preferred_username":    "bob",
				"zoneinfo":              "America/New_York",
				"locale":                "en-US",
				"email":                 "bob@example.com",
				"email_verified":        false,
				"phone_number":          "+1 202 555 0147",
				"phone_number_verified": true,
				"address": map[string]any{
					"formatted":      "2 Sample Avenue\nSpringfield, IL 62701\nUSA",
					"street_address": "2 Sample Avenue",
					"locality":       "Springfield",
					"region":         "IL",
					"postal_code":    "62701",
					"country":        "US",
				},
				"updated_at": 1735776000,
			},
		},
	})
}
