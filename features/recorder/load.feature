@recorder
Feature: The recorder under load takes a session or refuses it with 503, never silently
  Sessions opened at once, each from its own platform address, beyond what the recorder
  takes: each is answered promptly, 2xx or 503 (Retry-After optional), never silence;
  at least the capacity the recorder states is taken (the embedded recorder takes 8).

  @SRS-14
  Scenario: Twelve recording sessions at once are each taken or refused with 503
    When the platform opens 12 recording sessions at once for 3 seconds
    Then the recorder takes each session or refuses it with 503, promptly
    And the recorder answers every recording session within the answer time
