@POL-06
Feature: The reminder tone repeats at the configured interval while recording
  While a call is recorded, both parties hear a short reminder tone every
  `repeat.interval` seconds (20 by default, 10 to 90 allowed). The tone is for the
  parties, not the recording.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"

  @POL-06
  Scenario Outline: The reminder tone keeps its <interval> second interval
    Given the callee's reminder tone repeats every <interval> seconds
    When the caller calls the callee and they talk for <talk> seconds
    Then both parties hear the reminder tone every <interval> seconds

    Examples:
      | interval | talk |
      | 10       | 45   |
      | 20       | 70   |
      | 90       | 200  |

  @POL-06 @smoke
  Scenario: The default reminder interval is 20 seconds
    Given the callee's reminder tone is on with the default interval
    When the caller calls the callee and they talk for 70 seconds
    Then both parties hear the reminder tone every 20 seconds

  @POL-06
  Scenario: No reminder tone when repeat is disabled
    Given the callee's reminder tone is off
    When the caller calls the callee and they talk for 45 seconds
    Then neither party hears a reminder tone
