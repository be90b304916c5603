@POL-10
Feature: Voicemail deposits are recorded when the person's voicemail recording is on
  A call the callee does not answer goes to voicemail. With `recordVoicemailEnabled`
  the caller's message is recorded too.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"

  @POL-10
  Scenario: The voicemail deposit is recorded when voicemail recording is enabled
    Given the callee's voicemail recording is enabled
    When the caller calls the callee, who does not answer, and leaves a 15 second message
    Then the voicemail deposit is recorded

  @POL-10
  Scenario: The voicemail deposit is not recorded when voicemail recording is disabled
    Given the callee's voicemail recording is disabled
    When the caller calls the callee, who does not answer, and leaves a 15 second message
    Then the voicemail deposit is not recorded
