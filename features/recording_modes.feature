@POL-01
Feature: Recording modes decide whether and when a call is recorded
  A person's recording mode ("Always", "Never", "Always with Pause/Resume",
  "On Demand with User Initiated Start") decides whether the platform opens a
  recording session to the recorder, and from when.

  Background:
    Given the organisation records with provider "Dubber"

  @POL-01 @SRC-20 @smoke
  Scenario: A person recorded "Always" is recorded from the moment the call is answered
    Given the callee's recording mode is "Always"
    When the caller calls the callee and they talk for 30 seconds
    Then the call is recorded from answer
    And the recording session ends with the call

  @POL-01
  Scenario: A person recorded "Never" is not recorded
    Given the callee's recording mode is "Never"
    When the caller calls the callee and they talk for 20 seconds
    Then the call is not recorded

  @POL-01 @POL-02
  Scenario: "On Demand" records only after the user starts recording with *44
    Given the callee's recording mode is "On Demand with User Initiated Start"
    And the callee presses "*44" 10 seconds after answer
    When the caller calls the callee and they talk for 30 seconds
    Then no party audio reaches the recorder before recording was started
    And the call is recorded from the moment recording was started
