Feature: Pause and resume keep party audio out of the recording and notify the parties
  With "Always with Pause/Resume" or "On Demand", the recorded person pauses with *48
  and resumes with *49. While paused no party audio reaches the recorder. The parties
  are told by a beep or an announcement, as the notification setting says.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always with Pause/Resume"
    And the callee presses "*48" 10 seconds after answer
    And the callee presses "*49" 25 seconds after answer

  @SRC-17 @POL-02 @smoke
  Scenario: No party audio reaches the recorder while recording is paused
    Given the callee's pause/resume notification is "Beep"
    When the caller calls the callee and they talk for 40 seconds
    Then no party audio reaches the recorder while recording is paused
    And party audio reaches the recorder again after resume
    And the pause and resume codes take effect at the recorder

  @POL-07
  Scenario Outline: The parties are told about pause and resume by "<notification>"
    Given the callee's pause/resume notification is "<notification>"
    When the caller calls the callee and they talk for 40 seconds
    Then both parties hear the "<notification>" pause and resume notice

    Examples:
      | notification      |
      | Beep              |
      | Play Announcement |
      | None              |

  @POL-05
  Scenario: Pause and resume announcements are reported to the recorder as metadata
    Given the callee's pause/resume notification is "Play Announcement"
    When the caller calls the callee and they talk for 40 seconds
    Then each announcement is reported to the recorder in the metadata
