Feature: Recorder failure behaviour and media latency
  When the recorder refuses a recording session, the platform follows the configured
  failure behaviour. Recording must not delay or clip the parties' audio beyond the
  thresholds in the profile.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"

  @POL-13
  Scenario: The call proceeds when the recorder rejects the recording session
    Given the failure behaviour is "PROCEED_WITH_CALL_NO_ANNOUNCEMENT"
    And the recorder rejects recording sessions with 503
    When the caller calls the callee and they talk for 15 seconds
    Then the call proceeds as the failure behaviour says

  @POL-13
  Scenario: The call ends when the recorder rejects and the behaviour says end the call
    Given the failure behaviour is "END_CALL_WITH_ANNOUNCEMENT"
    And the recorder rejects recording sessions with 503
    When the caller calls the callee and they talk for 15 seconds
    Then the call proceeds as the failure behaviour says

  @RP-LATENCY @POL-01 @smoke
  Scenario: Recording does not add latency or clip the start of the recording beyond the thresholds
    When the caller calls the callee and they talk for 20 seconds
    Then the media latency is within the profile's thresholds
    And the start of the recording is not clipped beyond the profile's threshold
