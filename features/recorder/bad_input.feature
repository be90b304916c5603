@recorder
Feature: The recorder refuses what is not a recording session, and bad input, without going silent
  An INVITE without SIPREC metadata or marker is no recording session. Metadata that is not
  well-formed XML gets 400, metadata whose references dangle a 4xx, a body of a type the
  recorder does not take 415 with Accept, an oversized body a final response either way.
  The recorder never answers with silence, and takes the next valid session.

  @SRS-04
  Scenario: An INVITE that is no recording session is refused
    When the platform sends an INVITE that is no recording session, then a valid one
    Then the recorder refuses the plain INVITE
    And the recorder answers every recording session within the answer time

  @SRS-05
  Scenario: A session that requires an extension the recorder cannot support is refused with 420
    When the platform opens a session that requires an unknown extension, then a valid one
    Then the recorder refuses the unknown extension with 420
    And the recorder answers every recording session within the answer time

  @SRS-08 @SRS-13
  Scenario Outline: Bad sessions in the "<dialect>" dialect get the right error, and valid ones are still taken
    When the platform sends bad sessions in the "<dialect>" dialect, each followed by a valid one
    Then the recorder answers bad input with the right error and keeps taking sessions
    And the recorder answers every recording session within the answer time

    Examples:
      | dialect           |
      | rfc-strict        |
      | broadworks-compat |
