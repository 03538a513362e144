# ruff: noqa: E501  (tool docstrings are the official tool descriptions, kept verbatim)
"""The telecom user's 30 phone tools, the user-side setup functions and env assertions.

Behaviour follows sierra-research/tau2-bench (MIT), ``domains/telecom/user_tools.py``: the
same simulated phone (network search, speed test, MMS rules), output strings and state
changes. The user DB is a ``DocumentDB`` with two tables, ``device`` and ``surroundings``,
whose keys are the fields of upstream's phone and surroundings models, so its hash is the
official user-DB hash. Enum fields hold their string values.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel

from fama.envs.tau2.telecom.models import (
    APNSettings,
    NetworkModePreference,
    PerformanceLevel,
)
from fama.envs.tau2.toolkit import Toolkit, tool

Record = dict[str, Any]

DEVICE = "device"
SURROUNDINGS = "surroundings"

# Enum values (upstream's SimStatus, NetworkStatus, NetworkTechnology, SignalStrength, APNNames)
SIM_ACTIVE, SIM_MISSING, SIM_LOCKED_PIN, SIM_LOCKED_PUK = (
    "active",
    "missing",
    "locked_pin",
    "locked_puk",
)
CONNECTED, SEARCHING, NO_SERVICE = "connected", "searching", "no_service"
NO_TECH, TWO_G, THREE_G, FOUR_G, FIVE_G = "none", "2G", "3G", "4G", "5G"
NO_SIGNAL = "none"
APN_BROKEN = "broken"
VPN_POOR = "poor"

_SIGNAL_ICONS = {
    "none": "\U0001f4f5 No Signal",
    "poor": "\U0001f4f6\xb9 Poor",
    "fair": "\U0001f4f6\xb2 Fair",
    "good": "\U0001f4f6\xb3 Good",
    "excellent": "\U0001f4f6\u2074 Excellent",
}
_TECH_SPEED_MBPS = {
    TWO_G: (0.1, 0.4),
    THREE_G: (1.0, 5.0),
    FOUR_G: (10.0, 100.0),
    FIVE_G: (50.0, 500.0),
    NO_TECH: (0.0, 0.0),
}
_SIGNAL_FACTOR = {"poor": 0.2, "fair": 0.5, "good": 0.8, "excellent": 1.0, "none": 0.0}
_SPEED_ADVICE = {
    "Very Poor": "Connection is very slow. Basic web browsing might be difficult.",
    "Poor": "Connection is slow. Web browsing may be sluggish, streaming difficult.",
    "Fair": "Connection is okay for web browsing and some standard definition streaming.",
    "Good": "Connection is good for most activities, including HD streaming.",
    "Excellent": "Connection is very fast.",
}
_SIM_MESSAGES = {
    SIM_ACTIVE: "Your SIM card is active and working.",
    SIM_MISSING: "No SIM card detected in the phone.",
    SIM_LOCKED_PIN: "The SIM card is locked with a PIN code.",
    SIM_LOCKED_PUK: "The SIM card is locked with a PUK code.",
}
_MODE_TECH = {
    "4g_only": FOUR_G,
    "3g_only": THREE_G,
    "2g_only": TWO_G,
}
DEFAULT_VPN_DETAILS: Record = {
    "server_address": "192.168.1.1",
    "protocol": "OpenVPN",
    "server_performance": "excellent",
}


def _dump(model: BaseModel) -> Record:
    return cast(Record, model.model_dump(mode="json"))


def _on_off(value: Any) -> str:
    return "ON" if value else "OFF"


class TelecomUserTools(Toolkit):
    """The tools of the telecom user's phone (user side of dual control)."""

    # -- state access -------------------------------------------------------------------------

    def _get(self, field: str) -> Any:
        return self.db.get(DEVICE, field)

    def _set(self, field: str, value: Any) -> None:
        self.db.insert(DEVICE, field, value)

    def _mut(self, table: str, field: str) -> Record:
        """A dict-valued field copied for mutation (it must hold a dict)."""
        return cast(Record, self.db.get_mut(table, field))

    def set_surrounding(self, field: str, value: Any) -> None:
        """Set one field of the user's surroundings (used by the agent-to-user sync)."""
        self.db.insert(SURROUNDINGS, field, value)

    def surrounding(self, field: str) -> Any:
        """One field of the user's surroundings (read-only)."""
        return self.db.get(SURROUNDINGS, field)

    def _drop_wifi_connection(self) -> None:
        self._set("wifi_connected", False)
        self._set("wifi_ssid", None)
        self._set("wifi_signal_strength", NO_SIGNAL)

    def _no_service(self) -> None:
        self._set("network_connection_status", NO_SERVICE)
        self._set("network_technology_connected", NO_TECH)
        self._set("network_signal_strength", NO_SIGNAL)

    # -- setup of the user's situation --------------------------------------------------------

    def set_user_info(self, name: str, phone_number: str) -> None:
        """Set the user's name and phone number."""
        self.set_surrounding("name", name)
        self.set_surrounding("phone_number", phone_number)

    def set_user_location(self, abroad: bool) -> None:
        """Set whether the user is abroad."""
        self.set_surrounding("is_abroad", abroad)

    # -- status bar and network ---------------------------------------------------------------

    @tool("read")
    def check_status_bar(self) -> str:
        """Shows what icons are currently visible in your phone's status bar (the area at the top of the screen). Displays network signal strength, mobile data status (enabled, disabled, data saver), Wi-Fi status, and battery level."""
        return f"Status Bar: {self.status_bar()}"

    def status_bar(self) -> str:
        """The status bar's indicators, joined with `` | ``."""
        indicators: list[str] = []
        if self._get("airplane_mode"):
            indicators.append("\u2708\ufe0f Airplane Mode")
        else:
            signal = self._get("network_signal_strength")
            indicators.append(_SIGNAL_ICONS.get(signal, _SIGNAL_ICONS["none"]))
            technology = self._get("network_technology_connected")
            if technology != NO_TECH:
                indicators.append(technology)
            if self._get("data_enabled") and technology != NO_TECH:
                indicators.append("\U0001f4f1 Data Enabled")
                if self._get("data_saver_mode"):
                    indicators.append("\U0001f53d Data Saver")
            else:
                indicators.append("\U0001f4f5 Data Disabled")
        if self._get("wifi_enabled") and self._get("wifi_connected"):
            ssid = self._get("wifi_ssid")
            indicators.append(f"\U0001f4e1 Connected to {ssid}" if ssid else "\U0001f4e1 Enabled")
        if self._get("vpn_connected"):
            indicators.append("\U0001f512 VPN Connected")
        indicators.append(f"\U0001f50b {self._get('battery_level')}%")
        return " | ".join(indicators)

    def _with_status_bar(self, text: str) -> str:
        return f"{text}\nStatus Bar: {self.status_bar()}"

    @tool("read")
    def check_network_status(self) -> str:
        """Checks your phone's connection status to cellular networks and Wi-Fi. Shows airplane mode status, signal strength, network type, whether mobile data is enabled, and whether data roaming is enabled."""
        lines = [
            f"Airplane Mode: {_on_off(self._get('airplane_mode'))}",
            f"SIM Card Status: {self._sim_status()}",
            f"Cellular Connection: {self._get('network_connection_status')}",
            f"Cellular Signal: {self._get('network_signal_strength')}",
            f"Cellular Network Type: {self._get('network_technology_connected')}",
            f"Mobile Data Enabled: {'Yes' if self._get('data_enabled') else 'No'}",
            f"Data Roaming Enabled: {'Yes' if self._get('roaming_enabled') else 'No'}",
            f"Wi-Fi Radio: {_on_off(self._get('wifi_enabled'))}",
            f"Wi-Fi Connected: {'Yes' if self._get('wifi_connected') else 'No'}",
        ]
        if self._get("wifi_connected"):
            lines.append(f"Connected Wi-Fi Network: {self._get('wifi_ssid')}")
        return "\n".join(lines)

    @tool("read")
    def check_network_mode_preference(self) -> str:
        """Shows the current network mode preference."""
        preference = self._get("network_mode_preference")
        if not isinstance(preference, str):  # left by an invalid set_network_mode_preference
            raise AttributeError(f"'{type(preference).__name__}' object has no attribute 'value'")
        return f"Network Mode Preference: {preference}"

    @tool("write")
    def set_network_mode_preference(self, mode: NetworkModePreference | str) -> str:
        """Changes the type of cellular network your phone prefers to connect to (e.g., 5G, LTE/4G, 3G). Higher-speed networks (LTE/5G) provide faster data but may use more battery."""
        valid = [m.value for m in NetworkModePreference]
        failed = (
            f"Failed to set network mode: '{mode}' is not a valid option. "
            f"Please use one of: {', '.join(valid)}"
        )
        if isinstance(mode, str) and mode not in valid:
            return self._with_status_bar(failed)
        # Upstream stores a non-string value unchecked and searches; None then reads as a
        # failure and any other value fails on ``.value``.
        self._set("network_mode_preference", mode)
        self.simulate_network_search()
        if mode is None:
            return self._with_status_bar(failed)
        if not isinstance(mode, str):
            raise AttributeError(f"'{type(mode).__name__}' object has no attribute 'value'")
        return self._with_status_bar(f"Preferred Network Mode set to: {mode}")

    def mobile_data_working(self) -> bool:
        """Whether mobile data works (radio, signal, service, roaming, switch, data limit)."""
        if self._get("airplane_mode") or self._get("network_signal_strength") == NO_SIGNAL:
            return False
        if self._get("network_connection_status") == NO_SERVICE:
            return False
        if self.surrounding("is_abroad") and (
            not self._get("roaming_enabled") or not self.surrounding("roaming_allowed")
        ):
            return False
        if not self._get("data_enabled"):
            return False
        return not self.surrounding("mobile_data_usage_exceeded")

    @tool("read")
    def run_speed_test(self) -> str:
        """Measures your current internet connection speed (download speed). Provides information about connection quality and what activities it can support."""
        speed, description = self.speed_test()
        if speed is None:
            return f"Speed test failed: {description or 'Could not determine speed'}."
        advice = _SPEED_ADVICE.get(description or "", "")
        return f"Speed Test Result: {speed:.2f} Mbps ({description}). {advice}"

    def speed_test(self) -> tuple[float | None, str]:
        """The simulated download speed in Mbps (None without data) and its description."""
        if not self.mobile_data_working():
            return None, "No Connection"
        details = self._get("vpn_details")
        poor_vpn = (
            self._get("vpn_connected") and details and details["server_performance"] == VPN_POOR
        )
        factor = 0.1 if poor_vpn else 1.0
        if self._get("data_saver_mode"):
            factor *= 0.2
        low, high = _TECH_SPEED_MBPS.get(self._get("network_technology_connected"), (0.0, 0.0))
        signal = _SIGNAL_FACTOR.get(self._get("network_signal_strength"), 0.0)
        speed = round((low + high) / 2.0 * signal * factor, 2)
        if speed < 1:
            return speed, "Very Poor"
        if speed < 5:
            return speed, "Poor"
        if speed < 25:
            return speed, "Fair"
        if speed < 100:
            return speed, "Good"
        return speed, "Excellent"

    # -- airplane mode ------------------------------------------------------------------------

    @tool("write")
    def toggle_airplane_mode(self) -> str:
        """Toggles Airplane Mode ON or OFF. When ON, it disconnects all wireless communications including cellular, Wi-Fi, and Bluetooth.
        Returns the new state of airplane_mode.
        """
        state = self._toggle_airplane_mode()
        return self._with_status_bar(f"Airplane Mode is now {_on_off(state)}.")

    def _toggle_airplane_mode(self) -> bool:
        was_on = bool(self._get("airplane_mode"))
        self._set("airplane_mode", not was_on)
        if was_on:
            self._set("network_connection_status", SEARCHING)
            if self._get("wifi_enabled"):
                self._drop_wifi_connection()
        else:
            self._drop_wifi_connection()
            if self._get("vpn_connected"):
                self._disconnect_vpn()
        self.simulate_network_search()
        return bool(self._get("airplane_mode"))

    def turn_airplane_mode_on(self) -> str:
        """Turn Airplane Mode on (a setup function)."""
        if not self._toggle_airplane_mode():
            self._toggle_airplane_mode()
        return "Airplane Mode is now ON."

    def turn_airplane_mode_off(self) -> str:
        """Turn Airplane Mode off (a setup function)."""
        if self._toggle_airplane_mode():
            self._toggle_airplane_mode()
        return "Airplane Mode is now OFF."

    # -- SIM card -----------------------------------------------------------------------------

    @tool("read")
    def check_sim_status(self) -> str:
        """Checks if your SIM card is working correctly and displays its current status. Shows if the SIM is active, missing, or locked with a PIN or PUK code."""
        status = self._sim_status()
        return _SIM_MESSAGES.get(status, f"Unknown SIM status: {status}")

    def _sim_status(self) -> str:
        if self._get("sim_card_missing"):
            return SIM_MISSING
        return cast(str, self._get("sim_card_status"))

    @tool("write")
    def reseat_sim_card(self) -> str:
        """Simulates removing and reinserting your SIM card. This can help resolve recognition issues."""
        self._set("sim_card_missing", False)
        self.simulate_network_search()
        return self._with_status_bar("SIM card re-seated successfully.")

    def unseat_sim_card(self) -> str:
        """Remove the SIM card (a setup function; reseat_sim_card fixes it)."""
        self._set("sim_card_missing", True)
        self.simulate_network_search()
        return "SIM card un-seated successfully."

    def lock_sim_card(self, mode: str) -> str:
        """Lock the SIM card with a PIN or PUK (a setup function; no tool fixes it)."""
        if mode == "pin":
            self._set("sim_card_status", SIM_LOCKED_PIN)
        elif mode == "puk":
            self._set("sim_card_status", SIM_LOCKED_PUK)
        self.simulate_network_search()
        return f"SIM card locked successfully in {mode} mode."

    # -- mobile data and roaming --------------------------------------------------------------

    @tool("write")
    def toggle_data(self) -> str:
        """Toggles your phone's mobile data connection ON or OFF. Controls whether your phone can use cellular data for internet access when Wi-Fi is unavailable.
        Returns the new data connection status.
        """
        state = self._toggle_data()
        return self._with_status_bar(f"Mobile Data is now {_on_off(state)}.")

    def _toggle_data(self) -> bool:
        state = not self._get("data_enabled")
        self._set("data_enabled", state)
        self.simulate_network_search()
        return state

    def turn_data_on(self) -> str:
        """Turn mobile data on (a setup function; no network search)."""
        self._set("data_enabled", True)
        return "Data connection restored."

    def turn_data_off(self) -> str:
        """Turn mobile data off (a setup function)."""
        if self._toggle_data():
            self._toggle_data()
        return "Data connection broken."

    @tool("write")
    def toggle_roaming(self) -> str:
        """Toggles Data Roaming ON or OFF. When ON, your phone can use data networks in areas outside your carrier's coverage.
        Returns the new data roaming status.
        """
        state = self._toggle_roaming()
        return self._with_status_bar(f"Data Roaming is now {_on_off(state)}.")

    def _toggle_roaming(self) -> bool:
        state = not self._get("roaming_enabled")
        self._set("roaming_enabled", state)
        self.simulate_network_search()
        return state

    def turn_roaming_on(self) -> str:
        """Turn data roaming on (a setup function)."""
        if not self._toggle_roaming():
            self._toggle_roaming()
        return "Data Roaming is now ON."

    def turn_roaming_off(self) -> str:
        """Turn data roaming off (a setup function)."""
        if self._toggle_roaming():
            self._toggle_roaming()
        return "Data Roaming is now OFF."

    @tool("read")
    def check_data_restriction_status(self) -> str:
        """Checks if your phone has any data-limiting features active. Shows if Data Saver mode is on."""
        if self._get("data_saver_mode"):
            return "Data Saver mode is ON (limits data usage)."
        return "Data Saver mode is OFF."

    @tool("write")
    def toggle_data_saver_mode(self) -> str:
        """Toggles Data Saver mode ON or OFF. When ON, it reduces data usage, which may affect data speed.
        Returns the new data saver mode status.
        """
        state = self._toggle_data_saver_mode()
        return self._with_status_bar(f"Data Saver Mode is now {_on_off(state)}.")

    def _toggle_data_saver_mode(self) -> bool:
        state = not self._get("data_saver_mode")
        self._set("data_saver_mode", state)
        return state

    def turn_data_saver_mode_on(self) -> str:
        """Turn Data Saver mode on (a setup function)."""
        if not self._toggle_data_saver_mode():
            self._toggle_data_saver_mode()
        return "Data Saver Mode is now ON."

    def turn_data_saver_mode_off(self) -> str:
        """Turn Data Saver mode off (a setup function)."""
        if self._toggle_data_saver_mode():
            self._toggle_data_saver_mode()
        return "Data Saver Mode is now OFF."

    # -- APN settings -------------------------------------------------------------------------

    @tool("read")
    def check_apn_settings(self) -> str:
        """Checks the technical APN settings your phone uses to connect to your carrier's mobile data network. Shows current APN name and MMSC URL for picture messaging."""
        apn = self._get("active_apn_settings")
        name = apn["apn_name"] or "Not Set"
        mmsc_url = apn["mmsc_url"] or "Not Set"
        return (
            f"Current APN Name: {name}\nMMSC URL (for picture messages): {mmsc_url}\n"
            "(These are technical settings, usually best left unchanged.)"
        )

    @tool("write")
    def set_apn_settings(self, apn_settings: APNSettings | dict) -> str:  # type: ignore[type-arg]
        """Sets the APN settings for the phone."""
        if not isinstance(apn_settings, dict):
            # Upstream would store the value and then fail; the phone is left unchanged here.
            raise AttributeError(
                f"'{type(apn_settings).__name__}' object has no attribute 'apn_name'"
            )
        settings = _dump(APNSettings(**apn_settings))
        self._set("active_apn_settings", settings)
        self.simulate_network_search()
        return self._with_status_bar(f"APN settings set to: {settings['apn_name']}")

    @tool("write")
    def reset_apn_settings(self) -> str:
        """Resets your APN settings to the default settings."""
        self._mut(DEVICE, "active_apn_settings")["reset_at_reboot"] = True
        self.simulate_network_search()
        return self._with_status_bar("APN settings will reset at reboot.")

    def break_apn_settings(self) -> str:
        """Break the APN name (a setup function; reset_apn_settings then a reboot fixes it)."""
        self._mut(DEVICE, "active_apn_settings")["apn_name"] = APN_BROKEN
        self.simulate_network_search()
        if self._get("network_connection_status") != NO_SERVICE:
            raise AssertionError("a broken APN should leave the phone without service")
        return "APN settings broken. Please call reset_apn_settings() to fix."

    def break_apn_mms_setting(self) -> str:
        """Remove the MMSC URL (a setup function; reset_apn_settings then a reboot fixes it)."""
        self._mut(DEVICE, "active_apn_settings")["mmsc_url"] = None
        if self.mms_possible():
            raise AssertionError("a missing MMSC URL should prevent MMS")
        return "APN MMS setting broken. Please call reset_apn_settings() to fix."

    # -- Wi-Fi and Wi-Fi calling --------------------------------------------------------------

    @tool("read")
    def check_wifi_status(self) -> str:
        """Checks your Wi-Fi connection status. Shows if Wi-Fi is turned on, which network you're connected to (if any), and the signal strength."""
        if not self._get("wifi_enabled"):
            return "Wi-Fi is turned OFF."
        if self._get("wifi_connected"):
            return (
                f"Wi-Fi is ON and connected to '{self._get('wifi_ssid')}'. "
                f"Signal strength: {self._get('wifi_signal_strength')}."
            )
        return "Wi-Fi is ON but not connected to any network."

    @tool("write")
    def toggle_wifi(self) -> str:
        """Toggles your phone's Wi-Fi radio ON or OFF. Controls whether your phone can discover and connect to wireless networks for internet access.
        Returns the new Wi-Fi status.
        """
        if self._get("airplane_mode"):
            return self._with_status_bar("Cannot change Wi-Fi settings while Airplane Mode is ON.")
        state = not self._get("wifi_enabled")
        self._set("wifi_enabled", state)
        if not state:
            self._drop_wifi_connection()
        return self._with_status_bar(f"Wi-Fi is now {_on_off(state)}.")

    @tool("read")
    def check_wifi_calling_status(self) -> str:
        """Checks if Wi-Fi Calling is enabled on your device. This feature allows you to make and receive calls over a Wi-Fi network instead of using the cellular network."""
        return f"Wi-Fi Calling is currently turned {_on_off(self._get('wifi_calling_enabled'))}."

    @tool("write")
    def toggle_wifi_calling(self) -> str:
        """Toggles Wi-Fi Calling ON or OFF. This feature allows you to make and receive calls over Wi-Fi instead of the cellular network, which can help in areas with weak cellular signal.
        Returns the new Wi-Fi Calling status.
        """
        state = not self._get("wifi_calling_enabled")
        self._set("wifi_calling_enabled", state)
        return self._with_status_bar(f"Wi-Fi Calling is now {_on_off(state)}.")

    def set_wifi_calling(self, enabled: bool, mms_over_wifi: bool | None = None) -> str:
        """Set Wi-Fi Calling, and MMS over Wi-Fi when given (a setup function)."""
        if self._get("wifi_calling_enabled") != enabled:
            self._set("wifi_calling_enabled", not self._get("wifi_calling_enabled"))
        message = f"Wi-Fi Calling is now {_on_off(enabled)}."
        if mms_over_wifi is not None:
            self._set("wifi_calling_mms_over_wifi", mms_over_wifi)
            message += f"\nMMS over Wi-Fi is now {_on_off(mms_over_wifi)}."
        return message

    # -- VPN ----------------------------------------------------------------------------------

    @tool("read")
    def check_vpn_status(self) -> str:
        """Checks if you're using a VPN (Virtual Private Network) connection. Shows if a VPN is active, connected, and displays any available connection details."""
        if self._get("vpn_connected"):
            details = self._get("vpn_details")
            if details:
                # Upstream prints the model dump: a Python dict with the enum's repr.
                shown = {
                    **details,
                    "server_performance": PerformanceLevel(details["server_performance"]),
                }
                return f"VPN is ON and connected. Details: {shown}"
            return "VPN is ON and connected (no specific details available)."
        if self._get("vpn_enabled_setting"):
            return "VPN is turned ON in settings, but currently not connected."
        return "VPN is turned OFF."

    @tool("write")
    def connect_vpn(self) -> str:
        """Connects to your VPN (Virtual Private Network)."""
        if self._get("vpn_connected"):
            return "VPN already connected."
        self._set("vpn_connected", True)
        self._set("vpn_details", dict(DEFAULT_VPN_DETAILS))
        return self._with_status_bar("VPN connected successfully.")

    @tool("write")
    def disconnect_vpn(self) -> str:
        """Disconnects any active VPN (Virtual Private Network) connection. Stops routing your internet traffic through a VPN server, which might affect connection speed or access to content."""
        text = (
            "VPN disconnected successfully."
            if self._disconnect_vpn()
            else "No active VPN connection to disconnect."
        )
        return self._with_status_bar(text)

    def _disconnect_vpn(self) -> bool:
        if not self._get("vpn_connected"):
            return False
        self._set("vpn_connected", False)
        self._set("vpn_details", None)
        return True

    def break_vpn(self) -> str:
        """Connect a VPN with poor performance, which slows mobile data (a setup function)."""
        self.connect_vpn()
        details = self.db.get_mut(DEVICE, "vpn_details")
        if details is None:
            raise AttributeError("'NoneType' object has no attribute 'server_performance'")
        details["server_performance"] = VPN_POOR
        return "VPN connection broken."

    # -- apps ---------------------------------------------------------------------------------

    @tool("read")
    def check_installed_apps(self) -> str:
        """Returns the name of all installed apps on the phone."""
        names = ", ".join(self._get("app_statuses"))
        return f"The following apps are installed on the phone: {names}"

    def _permissions(self, app_name: str) -> Record | None:
        app = self._get("app_statuses").get(app_name)
        return None if app is None else cast(Record, app["permissions"])

    @tool("read")
    def check_app_status(self, app_name: str) -> str:
        """Checks detailed information about a specific app. Shows its permissions and background data usage settings."""
        permissions = self._permissions(app_name)
        if permissions is None:
            return f"App '{app_name}' not found on this phone."
        lines = [f"Status for App: {app_name}"]
        granted = _granted(permissions)
        if not granted:
            lines.append(" - Permissions: None granted.")
        else:
            lines.append(" - Permissions Granted:")
            lines.extend(f"   - {name}" for name in granted)
        return "\n".join(lines)

    @tool("read")
    def check_app_permissions(self, app_name: str) -> str:
        """Checks what permissions a specific app currently has. Shows if the app has access to features like storage, camera, location, etc."""
        permissions = self._permissions(app_name)
        if permissions is None:
            return f"App '{app_name}' not found on this phone."
        granted = _granted(permissions)
        if not granted:
            return f"App '{app_name}' currently has no permissions granted."
        return f"App '{app_name}' has permission for: {', '.join(granted)}."

    @tool("write")
    def grant_app_permission(self, app_name: str, permission: str) -> str:
        """Gives a specific permission to an app (like access to storage, camera, or location). Required for some app functions to work properly.

        Args:
            app_name: The name of the app to grant the permission to.
            permission: The permission to grant, should be lowercase.
        """
        permissions = self._permissions(app_name)
        name = permission.lower()
        if permissions is None:
            result = f"Error. App '{app_name}' not found. Cannot grant permission."
        elif name not in permissions:
            result = (
                f"Error. Permission '{name}' not tracked for app '{app_name}', "
                f"available permissions: {list(permissions)}"
            )
        else:
            self._set_permission(app_name, name, True)
            result = f"Success. Permission '{name}' granted to app '{app_name}'."
        return self._with_status_bar(result)

    def remove_app_permission(self, app_name: str, permission: str) -> tuple[bool, str]:
        """Remove a permission from an app (a setup function)."""
        permissions = self._permissions(app_name)
        name = permission.lower()
        if permissions is None:
            return False, f"App '{app_name}' not found. Cannot remove permission."
        if name not in permissions:
            return False, f"Permission '{name}' not tracked for app '{app_name}'."
        self._set_permission(app_name, name, False)
        return True, f"Permission '{name}' removed from app '{app_name}'."

    def _set_permission(self, app_name: str, name: str, value: bool) -> None:
        apps = self._mut(DEVICE, "app_statuses")
        apps[app_name]["permissions"][name] = value

    # -- MMS ----------------------------------------------------------------------------------

    @tool("read")
    def can_send_mms(self) -> str:
        """Checks if the default messaging app can send MMS messages."""
        if self.mms_possible():
            return "Your messaging app can send MMS messages."
        return "Your messaging app cannot send MMS messages."

    def mms_possible(self) -> bool:
        """Whether MMS works: mobile data, 3G or better, carrier MMS path, MMSC URL, app rights."""
        if not self.mobile_data_working():
            return False
        if self._get("network_technology_connected") == TWO_G:
            return False
        if self._get("wifi_calling_enabled") and self._get("wifi_calling_mms_over_wifi"):
            return False
        if self._get("active_apn_settings")["mmsc_url"] is None:
            return False
        permissions = self._permissions("messaging")
        if permissions is None:
            return False
        return bool(permissions["storage"] and permissions["sms"])

    # -- device -------------------------------------------------------------------------------

    @tool("write")
    def reboot_device(self) -> str:
        """Restarts your phone completely. This can help resolve many temporary software glitches by refreshing all running services and connections."""
        lines: list[str] = []
        if self._get("active_apn_settings")["reset_at_reboot"]:
            lines.append("Resetting APN settings...")
            self._set("active_apn_settings", _dump(APNSettings()))
        lines.append("Restarting network services...")
        self._set("network_connection_status", SEARCHING)
        self.simulate_network_search()
        return self._with_status_bar("\n".join(lines))

    def simulate_network_search(self) -> None:
        """Reconnect to the cellular network given the SIM, preference, radio, APN and line."""
        if self._sim_status() == SIM_ACTIVE:
            self._set("network_connection_status", CONNECTED)
            signals = self.surrounding("signal_strength")
            preference = self._get("network_mode_preference")
            if preference == "4g_5g_preferred":
                five_g = signals.get(FIVE_G, NO_SIGNAL)
                technology = FOUR_G if five_g == NO_SIGNAL else FIVE_G
            else:
                known = isinstance(preference, str)
                technology = _MODE_TECH.get(preference, FOUR_G) if known else FOUR_G
            self._set("network_technology_connected", technology)
            self._set("network_signal_strength", signals.get(technology, NO_SIGNAL))
        else:
            self._no_service()
        if self._get("airplane_mode"):
            self._no_service()
        if self._get("active_apn_settings")["apn_name"] == APN_BROKEN:
            self._no_service()
        if not self.surrounding("line_active"):
            self._no_service()

    # -- payments -----------------------------------------------------------------------------

    @tool("read")
    def check_payment_request(self) -> str:
        """
        Checks if the agent has sent you a payment request.
        """
        request = self.surrounding("payment_request")
        if request is None:
            return "No payment request has been made."
        return (
            f"You have a payment request for bill {request['bill_id']} "
            f"of {request['amount_due']} USD."
        )

    @tool("write")
    def make_payment(self) -> str:
        """
        Makes a payment for the bill that the agent has sent you.
        """
        request = self.db.get_mut(SURROUNDINGS, "payment_request")
        if request is None:
            return "You do not have a payment request."
        request["paid"] = True
        return (
            f"Payment of {request['amount_due']} USD has been made for bill {request['bill_id']}."
        )

    # -- env assertions -----------------------------------------------------------------------

    def assert_airplane_mode_status(self, expected_status: bool) -> bool:
        """Whether airplane mode is as expected."""
        return bool(self._get("airplane_mode") == expected_status)

    def assert_service_status(self, expected_status: str) -> bool:
        """Whether the cellular connection status is as expected (a NetworkStatus value)."""
        valid = {CONNECTED, SEARCHING, NO_SERVICE, "emergency_only"}
        if expected_status not in valid:
            raise ValueError(f"{expected_status!r} is not a valid NetworkStatus")
        return bool(self._get("network_connection_status") == expected_status)

    def assert_mobile_data_status(self, expected_status: bool) -> bool:
        """Whether mobile data works as expected."""
        return self.mobile_data_working() == expected_status

    def assert_mobile_roaming_status(self, expected_status: bool) -> bool:
        """Whether the phone's data roaming setting is as expected."""
        return bool(self._get("roaming_enabled") == expected_status)

    def assert_mobile_data_saver_mode_status(self, expected_status: bool) -> bool:
        """Whether Data Saver mode is as expected."""
        return bool(self._get("data_saver_mode") == expected_status)

    def assert_internet_speed(
        self, expected_speed: float, expected_desc: str | None = None
    ) -> bool:
        """Whether the speed test reaches ``expected_speed`` (and has the description, if given)."""
        speed, description = self.speed_test()
        reached = (speed or 0.0) >= expected_speed
        if expected_desc is None:
            return reached
        return reached and description.lower() == expected_desc.lower()

    def assert_internet_not_excellent(self) -> bool:
        """Whether the speed test result is not "Excellent"."""
        return self.speed_test()[1].lower() != "excellent"

    def assert_can_send_mms(self, expected_status: bool) -> bool:
        """Whether MMS works as expected."""
        return self.mms_possible() == expected_status

    def assert_mobile_data_usage_exceeded(self, expected_status: bool) -> bool:
        """Whether the data limit is exceeded as expected."""
        return bool(self.surrounding("mobile_data_usage_exceeded") == expected_status)


def _granted(permissions: Record) -> list[str]:
    return [name.replace("_", " ").lower() for name, allowed in permissions.items() if allowed]
