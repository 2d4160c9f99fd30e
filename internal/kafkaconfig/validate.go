package kafkaconfig

import (
	"fmt"
	"net"
	"strings"
)

// Validate checks the settings and returns the first problem, naming the
// file key and the flag to fix. It normalizes SASL.Mechanism to upper case
// and does not read any file: Opts does.
func (c *Config) Validate() error {
	if err := c.validateBrokers(); err != nil {
		return err
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	return c.SASL.validate()
}

func (c *Config) validateBrokers() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%s is empty: list the seed brokers as host:port", key("brokers"))
	}
	for i, broker := range c.Brokers {
		host, port, err := net.SplitHostPort(broker)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%s entry %d %q is not host:port: write it as broker1.example.com:9092", key("brokers"), i, broker)
		}
	}
	return nil
}

func (t *TLS) validate() error {
	if !t.Enabled {
		for _, setting := range []struct{ name, value string }{
			{"tls.ca", t.CAFile},
			{"tls.cert", t.CertFile},
			{"tls.key", t.KeyFile},
			{"tls.server-name", t.ServerName},
		} {
			if setting.value != "" {
				return fmt.Errorf("%s is set but TLS is off: set %s to true, or remove %s", key(setting.name), key("tls.enabled"), key(setting.name))
			}
		}
		return nil
	}

	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return fmt.Errorf("%s set without %s: set both for mutual TLS", key("tls.cert"), key("tls.key"))
	case t.KeyFile != "" && t.CertFile == "":
		return fmt.Errorf("%s set without %s: set both for mutual TLS", key("tls.key"), key("tls.cert"))
	}
	return nil
}

func (s *SASL) validate() error {
	s.Mechanism = strings.ToUpper(strings.TrimSpace(s.Mechanism))

	switch s.Mechanism {
	case "":
		return s.validateUnused("no SASL mechanism is set", "username", "password-file", "token-file", "password", "token")
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		return s.validateUserPassword()
	case MechanismOAuthBearer:
		return s.validateToken()
	}
	return fmt.Errorf("%s %q is not supported: use %s, %s, %s or %s", key("sasl.mechanism"), s.Mechanism,
		MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512, MechanismOAuthBearer)
}

func (s *SASL) validateUserPassword() error {
	if s.Username == "" {
		return fmt.Errorf("%s is empty: %s needs a user", key("sasl.username"), s.Mechanism)
	}
	switch {
	case s.Password == "" && s.PasswordFile == "":
		return fmt.Errorf("no SASL password for %s: set %s, or the environment variable %s", s.Mechanism, key("sasl.password-file"), EnvSASLPassword)
	case s.Password != "" && s.PasswordFile != "":
		return fmt.Errorf("both %s and %s are set: keep one of them", key("sasl.password-file"), EnvSASLPassword)
	}
	return s.validateUnused(s.Mechanism+" does not use a token", "token-file", "token")
}

func (s *SASL) validateToken() error {
	switch {
	case s.Token == "" && s.TokenFile == "":
		return fmt.Errorf("no OAUTHBEARER token: set %s, or the environment variable %s", key("sasl.token-file"), EnvSASLToken)
	case s.Token != "" && s.TokenFile != "":
		return fmt.Errorf("both %s and %s are set: keep one of them", key("sasl.token-file"), EnvSASLToken)
	}
	return s.validateUnused("OAUTHBEARER does not use a user or password", "username", "password-file", "password")
}

// validateUnused returns an error naming the first of the given settings
// that is set, with reason saying why it has no effect.
func (s *SASL) validateUnused(reason string, names ...string) error {
	values := map[string]string{
		"username":      s.Username,
		"password-file": s.PasswordFile,
		"token-file":    s.TokenFile,
		"password":      s.Password,
		"token":         s.Token,
	}
	for _, name := range names {
		if values[name] == "" {
			continue
		}
		switch name {
		case "password":
			return fmt.Errorf("%s is set but %s: unset it, or set %s", EnvSASLPassword, reason, key("sasl.mechanism"))
		case "token":
			return fmt.Errorf("%s is set but %s: unset it, or set %s", EnvSASLToken, reason, key("sasl.mechanism"))
		}
		return fmt.Errorf("%s is set but %s: remove it, or set %s", key("sasl."+name), reason, key("sasl.mechanism"))
	}
	return nil
}

// key names a setting both as its file key and as its flag, such as
// "kafka.tls.cert (--tls-cert)".
func key(name string) string {
	flagName := strings.ReplaceAll(name, ".", "-")
	if name == "tls.enabled" {
		flagName = "tls"
	}
	return fmt.Sprintf("kafka.%s (--%s)", name, flagName)
}
