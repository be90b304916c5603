Feature: Start and stop announcements are heard by the parties, not recorded, and reported
  When recording starts and stops, every party hears an announcement. The announcement
  must not be in what the recorder receives, and each announcement is reported to the
  recorder in the recording metadata.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"

  @POL-03 @smoke
  Scenario: Both parties hear the start announcement when recording starts
    Given the callee's start/stop announcement is enabled
    When the caller calls the callee and they talk for 20 seconds
    Then both parties hear the start announcement when recording starts

  @POL-04 @smoke @external
  Scenario: The announcement is not in the recording
    Given the callee's start/stop announcement is enabled
    When the caller calls the callee and they talk for 10 seconds
    Then no announcement is found in either recorded stream

  @POL-05
  Scenario: Each announcement is reported to the recorder as metadata
    Given the callee's start/stop announcement is enabled
    When the caller calls the callee and they talk for 20 seconds
    Then each announcement is reported to the recorder in the metadata

  @POL-03 @POL-04
  Scenario: Both parties hear the stop announcement when recording stops on demand
    Given the callee's recording mode is "On Demand with User Initiated Start"
    And the callee's start/stop announcement is enabled
    And the callee presses "*44" 5 seconds after answer
    And the callee presses "*45" 20 seconds after answer
    When the caller calls the callee and they talk for 30 seconds
    Then both parties hear the start announcement when recording starts
    And both parties hear the stop announcement when recording stops
    And no announcement is found in either recorded stream

  @POL-03
  Scenario: No announcement when the start/stop announcement is disabled
    Given the callee's start/stop announcement is disabled
    When the caller calls the callee and they talk for 20 seconds
    Then neither party hears a start announcement
